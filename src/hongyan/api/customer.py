"""The api.sms.cn endpoints: /mt/ /mtutf8/ /mm/ /rd/ /st/ /rx/, and the sister
platform's /tx/ (PROTOCOL.md, "Legacy dialect").

A plain ASGI callable rather than framework routes: these are the hot path,
and every answer, even to a broken request, must be the protocol's own text
with a Content-Length, never a framework's HTML error page.

Parameter values are percent-decoded only when read (`protocol/params.py`),
and the gates read `uid` and `pwd` first: a request with wrong credentials
never pays for decoding the rest of its body. Every field of the access log
that a client controls is cut to a bound.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

from hongyan import metrics
from hongyan.access_log import ACCESS, REASON_CHARS, UID_CHARS
from hongyan.api.limits import SEND_ENDPOINTS, body_limit
from hongyan.config import Settings
from hongyan.core.models import Account, Origin
from hongyan.core.schedule import format_local
from hongyan.core.service import CustomerService, SendForm
from hongyan.errors import Rejected
from hongyan.logs import clip
from hongyan.protocol import render
from hongyan.protocol.params import BadParams, Params, choose_encoding, collect
from hongyan.protocol.stat import Stat

log = logging.getLogger(__name__)


# Path → endpoint name; each path also answers without its trailing slash.
ENDPOINTS = {
    f"/{name}{slash}": name
    for name in ("mt", "mtutf8", "tx", "mm", "rd", "st", "rx")
    for slash in ("/", "")
}


class _TooLarge(Exception):
    pass


class _ClientGone(Exception):
    """The client left (or was cut off as too slow) before its body ended: a partial
    body is never acted on."""


class CustomerApi:
    def __init__(self, settings: Settings, service: CustomerService) -> None:
        self._settings = settings
        self._service = service
        self._handlers: dict[str, Callable[[Account, Params, bool], Awaitable[str]]] = {
            "mt": self._send,
            "mtutf8": self._send,
            "tx": self._send_bare,
            "mm": self._balance,
            "rd": self._records,
            "st": self._reports,
            "rx": self._replies,
        }
        self._latency = {name: metrics.LATENCY.labels(name) for name in self._handlers}
        self._counters: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        endpoint = ENDPOINTS[scope["path"]]
        charset = render.UTF8 if endpoint == "mtutf8" else render.GBK
        stat, uid, text, reason = Stat.OK, "", "", ""
        try:
            body = await _read_body(receive, body_limit(self._settings.http, endpoint))
            headers = dict(scope["headers"])
            pairs = collect(scope["query_string"], body, headers.get(b"content-type", b""))
            params = Params(pairs, choose_encoding(pairs, utf8_implied=endpoint == "mtutf8"))
            uid = params.ascii("uid")
            text, stat = await self._dispatch(endpoint, scope, headers, params, uid)
        except Rejected as exc:
            stat, reason = exc.stat, exc.detail
            text = render.error_answer(endpoint, stat, exc.dialect)
        except (BadParams, _TooLarge, _ClientGone) as exc:
            reason = clip(str(exc), REASON_CHARS)
            log.info("unreadable request", extra={"endpoint": endpoint, "reason": reason})
            stat = Stat.OPERATION_FAILED
            text = render.error_answer(endpoint, stat)
        except Exception:
            log.exception(
                "request failed", extra={"endpoint": endpoint, "uid": clip(uid, UID_CHARS)}
            )
            stat = Stat.OPERATION_FAILED
            text = render.error_answer(endpoint, stat)
        payload = render.encode(text, charset)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain; charset=" + charset.upper().encode()),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        elapsed = time.perf_counter() - started
        self._observe(endpoint, stat, elapsed)
        if self._settings.access_log:
            ACCESS.add(
                (
                    time.time(),
                    scope["method"],
                    scope["path"],
                    int(stat),
                    scope["query_string"],
                    uid,
                    (scope.get("client") or ("", 0))[0],
                    reason,
                    elapsed * 1000,
                )
            )

    async def _dispatch(
        self, endpoint: str, scope: Scope, headers: dict[bytes, bytes], params: Params, uid: str
    ) -> tuple[str, Stat]:
        if scope["method"] not in ("GET", "POST"):
            return render.error_answer(endpoint, Stat.OPERATION_FAILED), Stat.OPERATION_FAILED
        origin = Origin(
            peer=(scope.get("client") or ("",))[0], forwarded_for=forwarded_for(scope["headers"])
        )
        account = await self._service.admit(
            uid, params.ascii("pwd"), origin, sending=endpoint in SEND_ENDPOINTS
        )
        try:
            text = await self._handlers[endpoint](account, params, scope["method"] == "POST")
        except Rejected as exc:
            exc.dialect = account.dialect  # the caller is this account: its answer form
            raise
        return text, Stat.OK

    async def _send(self, account: Account, params: Params, post: bool) -> str:
        await self._submit(account, params, post)
        return render.sent_answer("mt")

    async def _send_bare(self, account: Account, params: Params, post: bool) -> str:
        """/tx/: /mt/ for every rule, gate and charge, answered by the bare code."""
        await self._submit(account, params, post)
        return render.sent_answer("tx")

    async def _submit(self, account: Account, params: Params, post: bool) -> None:
        try:
            form = SendForm(
                mobile=params.text("mobile"),
                content=params.text("content"),
                mobileids=params.text("mobileids"),
                mid=params.text("mid"),
                time=params.text("time"),
            )
        except UnicodeDecodeError:
            raise Rejected(Stat.ILLEGAL_CHARACTERS, "undecodable bytes") from None
        await self._service.send(account, form, post=post)

    async def _balance(self, account: Account, params: Params, post: bool) -> str:
        sent_total = params.ascii("cmd").lower() == "send"
        remain = await self._service.balance(account, sent_total=sent_total)
        return render.balance_answer(remain, account.dialect)

    async def _reports(self, account: Account, params: Params, post: bool) -> str:
        zone = self._service.zone
        return render.reports_answer(
            [
                (r.mobile, r.status, r.mobileid, format_local(r.created_at, zone))
                for r in await self._service.reports(account)
            ]
        )

    async def _replies(self, account: Account, params: Params, post: bool) -> str:
        zone = self._service.zone
        try:
            since = params.text("time")
        except UnicodeDecodeError:
            raise Rejected(Stat.ILLEGAL_CHARACTERS, "undecodable bytes") from None
        return render.replies_answer(
            [
                (r.mobile, r.content, format_local(r.received_at, zone), r.gateway)
                for r in await self._service.replies(account, since=since)
            ]
        )

    async def _records(self, account: Account, params: Params, post: bool) -> str:
        page_text = params.ascii("page")
        page = int(page_text) if page_text.isdigit() else 1
        try:
            date, key = params.text("date"), params.text("key")
        except UnicodeDecodeError:
            raise Rejected(Stat.ILLEGAL_CHARACTERS, "undecodable bytes") from None
        result = await self._service.records(account, page=page, date=date, key=key)
        zone, size = self._service.zone, self._settings.records_page_size
        lines = [
            (format_local(r.created_at, zone), r.mobile, r.content, r.status)
            for r in result.records
        ]
        return render.records_answer(result.total, math.ceil(result.total / size), lines)

    def _observe(self, endpoint: str, stat: Stat, elapsed: float) -> None:
        counter = self._counters.get((endpoint, stat))
        if counter is None:
            counter = self._counters[(endpoint, stat)] = metrics.REQUESTS.labels(
                endpoint, str(int(stat))
            )
        counter.inc()
        self._latency[endpoint].observe(elapsed)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """X-Forwarded-For of a request: all its lines, in order, as one list (RFC 9110
    §5.3). A proxy may add its own line after the client's (HAProxy's `option
    forwardfor`): reading one line only would believe the client's."""
    values = [value for name, value in headers if name.lower() == b"x-forwarded-for"]
    return b", ".join(values).decode("latin-1") if values else None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone("the client left before its body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
