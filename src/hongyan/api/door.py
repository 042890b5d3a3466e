"""The front door of one HTTP server: what all its connections share.

Counts of open connections (in all and per client address), the bytes of
request bodies held in memory at once, and the answer to every request
refused before it reaches the application. Each connection's own bounds
(head size, header count, timeouts, body sizes) are applied by the protocol
in `api/server.py`, with the limits held here.

A refused request still gets the protocol's answer when its path is known
(PROTOCOL.md "Transport": `sms&stat=103&message=操作失败`, a bare `103` on
/rx/, UTF-8 on /mtutf8/), with HTTP 200 as every protocol answer has: clients
read the stat, and several (PHP's file_get_contents, Java's
HttpURLConnection) drop the body of a 4xx. Other paths get the HTTP status
that names the problem (RFC 9110 §15.5) with the same text.
"""

from __future__ import annotations

import enum
import logging
import resource
from collections.abc import Sequence
from typing import Any

from hongyan import metrics
from hongyan.api.customer import ENDPOINTS
from hongyan.api.limits import HttpSettings, body_limit
from hongyan.core.addresses import address, networks
from hongyan.core.lockout import lockout_key
from hongyan.logs import clip
from hongyan.protocol import render
from hongyan.protocol.stat import Stat

access_log = logging.getLogger("hongyan.access")

# Where the web console lives (console/); its pages take larger bodies.
CONSOLE_PREFIX = "/console/"

# Open files kept for everything but client connections: the database, its
# journal, listening sockets, worker pipes, logs.
_FILES_RESERVED = 128


class Refusal(enum.Enum):
    """Why the door refused: (label, HTTP status for a non-protocol path)."""

    HEAD_TOO_LARGE = ("head_too_large", 431)
    URL_TOO_LONG = ("url_too_long", 414)
    TOO_MANY_HEADERS = ("too_many_headers", 431)
    HEAD_TIMEOUT = ("head_timeout", 408)
    BODY_TIMEOUT = ("body_timeout", 408)
    BODY_TOO_LARGE = ("body_too_large", 413)
    BUSY = ("busy", 503)  # the body budget of all connections is spent
    TOO_MANY_CONNECTIONS = ("too_many_connections", 503)
    BAD_REQUEST = ("bad_request", 400)
    ANSWERS_NOT_READ = ("answers_not_read", 408)  # no answer: the client does not read

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def status(self) -> int:
        return self.value[1]


_STATUS_LINES = {
    200: b"HTTP/1.1 200 OK\r\n",
    400: b"HTTP/1.1 400 Bad Request\r\n",
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    413: b"HTTP/1.1 413 Content Too Large\r\n",
    414: b"HTTP/1.1 414 URI Too Long\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\n",
}


def answer(path: str | None, refusal: Refusal) -> bytes:
    """The whole HTTP response to a refused request; the connection closes after it."""
    endpoint = ENDPOINTS.get(path or "")
    if endpoint is None:
        status, charset = refusal.status, render.GBK
        text = render.message_answer(Stat.OPERATION_FAILED)
    else:
        status = 200
        charset = render.UTF8 if endpoint == "mtutf8" else render.GBK
        text = render.error_answer(endpoint, Stat.OPERATION_FAILED)
    body = render.encode(text, charset)
    return b"".join(
        [
            _STATUS_LINES[status],
            b"content-type: text/plain; charset=" + charset.upper().encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def open_file_room() -> int:
    """Connections the open-file limit of this process leaves room for."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 30
    return max(1, soft - _FILES_RESERVED)


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; the new soft limit.

    The common soft limit of 1,024 let 1,100 idle connections make every
    other request fail (issue 11); the hard limit is the operator's to set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # e.g. above the kernel's nr_open
        return soft
    return target


# A leaky bucket's burst: short, or each new connection drops a whole 4 MB body
# at full speed before its pace applies.
_BURST_S = 0.25


def paced(clock: float, now: float, size: int, rate: int) -> float:
    """A leaky bucket: the time when `size` more bytes at `rate` a second are paid
    for, given the time `clock` the earlier ones were."""
    return max(now - _BURST_S, clock) + size / rate


class Door:
    """What the connections of one server share, and how it refuses."""

    def __init__(
        self,
        limits: HttpSettings,
        trusted_proxies: Sequence[str] = (),
        access_log: bool = True,
        console_body_bytes: int = 0,
    ) -> None:
        self.limits = limits
        # Bodies of the web console's pages (forms, uploads of numbers); 0: no console.
        self._console_body_bytes = console_body_bytes
        self.max_connections = min(limits.max_connections, open_file_room())
        self._trusted = networks(trusted_proxies)
        self._access_log = access_log
        self.connections = 0
        self.per_client: dict[str, int] = {}
        self.buffered = 0  # body bytes reserved by requests in progress
        self._discard_clock = 0.0  # when the bytes dropped so far are paid for
        self._refused = {r: metrics.HTTP_REFUSED.labels(r.label) for r in Refusal}

    # -- connections ----------------------------------------------------------

    def enter(self, peer: str) -> str | Refusal:
        """Count a new connection: the key to `leave` with, or why it is refused."""
        if self.connections >= self.max_connections:
            return Refusal.TOO_MANY_CONNECTIONS
        key = "" if self._is_trusted(peer) else lockout_key(peer)
        if key:
            count = self.per_client.get(key, 0)
            if count >= self.limits.max_connections_per_client:
                return Refusal.TOO_MANY_CONNECTIONS
            self.per_client[key] = count + 1
        self.connections += 1
        return key

    def leave(self, key: str) -> None:
        self.connections -= 1
        if key:
            count = self.per_client.pop(key, 1) - 1
            if count > 0:
                self.per_client[key] = count

    def _is_trusted(self, peer: str) -> bool:
        judged = address(peer)
        return judged is not None and any(judged in network for network in self._trusted)

    # -- bodies -----------------------------------------------------------------

    def body_limit(self, path: str | None) -> int:
        if self._console_body_bytes and path is not None and path.startswith(CONSOLE_PREFIX):
            return self._console_body_bytes
        return body_limit(self.limits, ENDPOINTS.get(path or ""))

    def admit_body(self, path: str | None, length: int, chunked: bool) -> int | Refusal:
        """The bytes of the budget reserved for a body (`length`, or a chunked body's
        whole limit), or why it is refused: over its endpoint's limit, or the budget."""
        limit = self.body_limit(path)
        if length > limit and not chunked:
            return Refusal.BODY_TOO_LARGE
        need = limit if chunked else length
        return need if self.reserve(need) else Refusal.BUSY

    def reserve(self, size: int) -> bool:
        """Room for a body of `size` bytes in memory, if the budget has it."""
        if self.buffered + size > self.limits.max_buffered_body_bytes:
            return False
        self.buffered += size
        return True

    def release(self, size: int) -> None:
        self.buffered -= size

    def discard_delay(self, size: int, now: float) -> float:
        """Seconds before any connection reads more to drop, after `size` bytes were
        dropped: all of them share `discard_rate_total`."""
        self._discard_clock = paced(self._discard_clock, now, size, self.limits.discard_rate_total)
        return max(0.0, self._discard_clock - now)

    # -- refusals ------------------------------------------------------------------

    def refused(self, refusal: Refusal, peer: str, path: str | None) -> None:
        self._refused[refusal].inc()
        if self._access_log:
            access_log.info(
                "refused: %s",
                refusal.label,
                extra={"client": clip(peer, 64), "path": clip(path or "", 100)},
            )


_default_door: Door | None = None


def find_door(app: Any) -> Door:
    """The Door of the application uvicorn serves (`App.door`), through its wrappers."""
    global _default_door
    for _ in range(4):
        door = getattr(app, "door", None)
        if isinstance(door, Door):
            return door
        app = getattr(app, "app", None)
        if app is None:
            break
    if _default_door is None:  # an application of ours without a door: default limits
        _default_door = Door(HttpSettings())
    return _default_door
