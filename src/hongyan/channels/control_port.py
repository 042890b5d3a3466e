"""The HTTP control port of the carrier simulators (127.0.0.1 only, JSON): what
tests, benchmarks and operators use to watch `hongyan smsc` (SMPP SMSC or
CMPP ISMG) and make it misbehave.

    GET  /counters               what happened so far
    GET  /submits                every accepted submit, in order
    POST /mo        {"source", "destination", "text", "parts": 1, "split": "udh8"|"sar",
                     "system_id": ""}  a handset's reply (CMPP: "sp_id", UDH only)
    POST /throttle  {"seconds": 2}   refuse submits as throttled meanwhile
    POST /drop                       cut every connection at once
    POST /freeze    {"seconds": 5}   read nothing on the open connections meanwhile
    POST /delay     {"seconds": 0.3} hold each submit response that long from now on

tests/peers/smsc.js answers the same routes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aiohttp import web

from hongyan.channels.session import Session

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_MAX_SECONDS = {"throttle": 3600.0, "freeze": 3600.0, "delay": 60.0}


class Misbehaviour:
    """The controls both simulators have over the connections they hold:
    throttling, dropping, freezing, slow answers. A simulator lists its
    connections in `_held_sessions()` and reads `_throttled_until` and
    `_response_delay_s` where it answers submits."""

    _throttled_until: float = 0.0
    _response_delay_s: float = 0.0

    def _held_sessions(self) -> Sequence[Session]:
        raise NotImplementedError

    def throttle(self, seconds: float) -> None:
        """Refuse submits as throttled (SMPP ESME_RTHROTTLED, CMPP Result 8) for `seconds`."""
        self._throttled_until = time.monotonic() + seconds

    def drop(self) -> None:
        """Cut every connection at once, requests in flight and all."""
        for session in list(self._held_sessions()):
            session.abort()

    def freeze(self, seconds: float) -> None:
        """Go silent on the open connections, leaving them open: nothing is
        read or answered for `seconds` (a link the client must find dead)."""
        for session in list(self._held_sessions()):
            session.hang(seconds)

    def delay_responses(self, seconds: float) -> None:
        """Answer each submit from now on `seconds` after it came in."""
        self._response_delay_s = seconds


class ControlledCarrier(Protocol):
    """What the control port drives: `Smsc` (SMPP) and `Ismg` (CMPP) both are."""

    @property
    def submits(self) -> Sequence[DataclassInstance]: ...

    def stats(self) -> dict[str, int]: ...

    def inject_mo(
        self,
        source: str,
        destination: str,
        text: str,
        parts: int,
        split: Literal["udh8", "sar"],
        account: str,  # SMPP system_id, CMPP sp_id; "" for the first account
        /,
    ) -> None: ...

    def throttle(self, seconds: float) -> None: ...

    def drop(self) -> None: ...

    def freeze(self, seconds: float) -> None: ...

    def delay_responses(self, seconds: float) -> None: ...


def control_app(carrier: ControlledCarrier) -> web.Application:
    app = web.Application()

    async def counters(_request: web.Request) -> web.Response:
        return web.json_response(carrier.stats())

    async def submits(_request: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in carrier.submits])

    async def mo(request: web.Request) -> web.Response:
        try:
            body: dict[str, Any] = await request.json()
            carrier.inject_mo(
                str(body["source"]),
                str(body["destination"]),
                str(body["text"]),
                int(body.get("parts", 1)),
                "sar" if body.get("split") == "sar" else "udh8",
                str(body.get("system_id") or body.get("sp_id") or ""),
            )
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def drop(_request: web.Request) -> web.Response:
        carrier.drop()
        return web.json_response({"ok": True})

    app.router.add_get("/counters", counters)
    app.router.add_get("/submits", submits)
    app.router.add_post("/mo", mo)
    app.router.add_post("/throttle", _for_seconds("throttle", carrier.throttle))
    app.router.add_post("/drop", drop)
    app.router.add_post("/freeze", _for_seconds("freeze", carrier.freeze))
    app.router.add_post("/delay", _for_seconds("delay", carrier.delay_responses))
    return app


async def start_control(carrier: ControlledCarrier, port: int) -> tuple[web.AppRunner, int]:
    """Serve the control port on 127.0.0.1:`port` (0: any free one); the
    runner to clean up, and the port."""
    runner = web.AppRunner(control_app(carrier), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    return runner, server.sockets[0].getsockname()[1]


def _for_seconds(
    name: str, action: Callable[[float], None]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    limit = _MAX_SECONDS[name]

    async def handle(request: web.Request) -> web.Response:
        try:
            seconds = float((await request.json()).get("seconds", 1))
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if not 0 <= seconds <= limit:
            error = f"seconds: 0 to {limit:g}"
            return web.json_response({"ok": False, "error": error}, status=400)
        action(seconds)
        return web.json_response({"ok": True})

    return handle
