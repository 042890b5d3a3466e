"""One push request on the wire: to an address the SSRF check approved just
before (`targets.approved_addresses`, cached for `dns_cache_s`), with the URL's
host in the Host header and TLS server name, signed, within a deadline,
redirects not followed, and little of the answer read. What the pusher
schedules (streams, hosts, breakers, outcomes) is in pusher.py.

HTTP is aiohttp's client, not httpx as elsewhere: on this project's 2-core
machine httpx managed about 1,100 requests/s to a loopback receiver and
aiohttp about 11,000, and push must sustain 2,000 a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

import aiohttp
from yarl import URL

from hongyan.core.schedule import format_local
from hongyan.core.states import OutboxKind
from hongyan.push import payload
from hongyan.push.policy import PushSettings
from hongyan.push.targets import Address, RefusedTarget, Resolver, approved_addresses
from hongyan.store import push as outbox

_MAX_ANSWER_BYTES = 64 * 1024
# The start of an answer kept to show the customer (the console's last deliveries).
ANSWER_HEAD_BYTES = 200


class Answer(NamedTuple):
    status: int
    head: str  # the first ANSWER_HEAD_BYTES of the body, as text


class PushFailure(Exception):
    """One push attempt that did not get a 2xx; `outcome` labels the metric."""

    def __init__(
        self,
        outcome: str,
        error: str,
        *,
        host_fault: bool = True,
        answer: Answer | None = None,
    ) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.host_fault = host_fault
        self.answer = answer  # what the server said, when it answered


class Sender:
    def __init__(self, settings: PushSettings, zone: ZoneInfo, resolve: Resolver) -> None:
        self._settings = settings
        self._zone = zone
        self._allowed = settings.networks()
        self._resolve = resolve
        self._dns: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            # Our own per-host limits; no proxy from the environment (we connect where we checked).
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            trust_env=False,
            timeout=aiohttp.ClientTimeout(
                total=self._settings.timeout_s, sock_connect=self._settings.connect_timeout_s
            ),
            auto_decompress=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, batch: Sequence[outbox.Claimed]) -> Answer:
        """Push `batch` in one request: its answer if 2xx, else `PushFailure`."""
        first = batch[0]
        forms = [self._form(item) for item in batch]
        answer = await self.exchange(first.url, first.method, forms, first.secret)
        status = answer.status
        if 200 <= status < 300:
            return answer
        if 300 <= status < 400:
            raise PushFailure("redirect", f"HTTP {status} redirect (not followed)", answer=answer)
        raise PushFailure("http_error", f"HTTP {status}", answer=answer)

    async def exchange(
        self, url_text: str, method: str, forms: Sequence[bytes], secret: str
    ) -> Answer:
        """One signed request with `forms` to an approved address of `url_text`, and
        whatever it answered; `PushFailure` when it was refused or got no answer."""
        try:
            address = (await self._approved(url_text))[0]
        except RefusedTarget as exc:
            raise PushFailure("refused", str(exc), host_fault=False) from None
        request = payload.build_request(url_text, method, forms, secret, int(time.time()))
        url = URL(request.url, encoded=True)
        headers = {"Host": _netloc(url), **request.headers}
        assert self._session is not None
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                async with self._session.request(
                    request.method,
                    url.with_host(str(address)),
                    data=request.body or None,
                    headers=headers,
                    allow_redirects=False,
                    server_hostname=url.host if url.scheme == "https" else None,
                ) as response:
                    status = response.status
                    head = await _read_answer(response)
        except TimeoutError:
            raise PushFailure(
                "timeout", f"no answer within {self._settings.timeout_s:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise PushFailure("connection", f"connection failed: {type(exc).__name__}") from None
        return Answer(status, head)

    def _form(self, item: outbox.Claimed) -> bytes:
        time_text = format_local(item.at, self._zone)
        if item.kind == OutboxKind.REPORT:
            return payload.report_form(item.uid, item.mobileid, item.mobile, item.status, time_text)
        return payload.reply_form(item.uid, time_text, item.mobile, item.content, item.gateway)

    async def _approved(self, url: str) -> list[Address]:
        """The URL's approved addresses, checked again once the cached answer is old."""
        parts = URL(url)
        key = (parts.host or "", parts.port or 0)
        now = time.monotonic()
        cached = self._dns.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        addresses = await approved_addresses(url, self._allowed, self._resolve)
        if self._settings.dns_cache_s > 0:
            self._dns[key] = (now + self._settings.dns_cache_s, addresses)
        return addresses


def _netloc(url: URL) -> str:
    """The Host header of `url`: its host, and its port unless the scheme's default."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    return host if url.is_default_port() else f"{host}:{url.port}"


async def _read_answer(response: aiohttp.ClientResponse) -> str:
    """Read the answer so the connection can be used again, at most a little of it
    (a server cannot keep us reading); its start, as text, to show the customer."""
    size = 0
    head = b""
    async for chunk in response.content.iter_chunked(16 * 1024):
        if len(head) < ANSWER_HEAD_BYTES:
            head += chunk[: ANSWER_HEAD_BYTES - len(head)]
        size += len(chunk)
        if size > _MAX_ANSWER_BYTES:
            response.close()
            break
    return _text(head)


def _text(data: bytes) -> str:
    """An answer's bytes as text: UTF-8, else GB18030 (what Chinese servers answer in)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # A cut through a character at the end is not a reason to give up on UTF-8.
        for cut in (1, 2, 3):
            try:
                return data[:-cut].decode("utf-8")
            except UnicodeDecodeError:
                pass
        return data.decode("gb18030", "replace")
