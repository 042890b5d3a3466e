"""The SMSC simulator's HTTP control port (127.0.0.1 only, JSON): what tests,
benchmarks and operators use to watch `hongyan smsc` and make it misbehave.

    GET  /counters               what happened so far
    GET  /submits                every accepted submit, in order
    POST /mo        {"source", "destination", "text", "parts": 1, "split": "udh8"|"sar"}
    POST /throttle  {"seconds": 2}   answer ESME_RTHROTTLED meanwhile
    POST /drop                       cut every connection at once
    POST /freeze    {"seconds": 5}   read nothing on the open connections meanwhile
    POST /delay     {"seconds": 0.3} hold each submit_sm_resp that long from now on

tests/peers/smsc.js answers the same routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from hongyan.channels.smpp.smsc import Smsc

_MAX_SECONDS = {"throttle": 3600.0, "freeze": 3600.0, "delay": 60.0}


def control_app(smsc: Smsc) -> web.Application:
    app = web.Application()

    async def counters(_request: web.Request) -> web.Response:
        return web.json_response(smsc.stats())

    async def submits(_request: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in smsc.submits])

    async def mo(request: web.Request) -> web.Response:
        try:
            body: dict[str, Any] = await request.json()
            smsc.inject_mo(
                str(body["source"]),
                str(body["destination"]),
                str(body["text"]),
                int(body.get("parts", 1)),
                "sar" if body.get("split") == "sar" else "udh8",
                str(body.get("system_id", "")),
            )
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def drop(_request: web.Request) -> web.Response:
        smsc.drop()
        return web.json_response({"ok": True})

    app.router.add_get("/counters", counters)
    app.router.add_get("/submits", submits)
    app.router.add_post("/mo", mo)
    app.router.add_post("/throttle", _for_seconds("throttle", smsc.throttle))
    app.router.add_post("/drop", drop)
    app.router.add_post("/freeze", _for_seconds("freeze", smsc.freeze))
    app.router.add_post("/delay", _for_seconds("delay", smsc.delay_responses))
    return app


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
