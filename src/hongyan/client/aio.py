"""`AsyncSmsClient`: the asyncio client, the same methods as `SmsClient`, awaited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from types import TracebackType
from typing import TypeVar

import httpx

from hongyan.client import parse
from hongyan.client.calls import MAX_NUMBERS, USER_AGENT, Call, ClientBase, transport_error
from hongyan.client.models import RecordPage, Reply, SendResult, StatusReport

__all__ = ["AsyncSmsClient"]

T = TypeVar("T")


class AsyncSmsClient(ClientBase):
    """The asyncio twin of `SmsClient` (same constructor, same methods, awaited).

        >>> from hongyan.client import AsyncSmsClient
        >>> async with AsyncSmsClient("http://api.sms.cn", "test", "123123") as sms:
        ...     await sms.send("13900008888", "您的验证码是 1234")
        ...     replies = await sms.replies()

    One client can carry many concurrent requests (httpx connection pooling).
    `transport` is any `httpx.AsyncBaseTransport`.
    """

    def __init__(
        self,
        url: str,
        uid: str,
        password: str | None = None,
        *,
        pwd: str | None = None,
        zone: tzinfo | None = parse.BEIJING,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_numbers: int = MAX_NUMBERS,
    ) -> None:
        super().__init__(url, uid, password, pwd=pwd, zone=zone, max_numbers=max_numbers)
        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT}
        )

    async def __aenter__(self) -> AsyncSmsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.post(call.url, data=call.form)
        except httpx.HTTPError as exc:
            raise transport_error(call.url, exc) from exc
        return call.read(response)

    async def send(
        self,
        mobiles: str | Sequence[str],
        content: str,
        *,
        mobileids: str | Sequence[str] | None = None,
        mid: str | None = None,
        at: datetime | None = None,
    ) -> SendResult:
        """Send `content` to one number or many (/mt/); see `SmsClient.send`."""
        return await self._run(self._send_call(mobiles, content, mobileids, mid, at))

    async def reports(self) -> list[StatusReport]:
        """The next status reports (/st/), each handed out once; see `SmsClient.reports`."""
        return await self._run(self._reports_call())

    async def replies(self, since: datetime | None = None) -> list[Reply]:
        """The next replies (/rx/), or all since `since`; see `SmsClient.replies`."""
        return await self._run(self._replies_call(since))

    async def balance(self) -> int:
        """Parts (条) left to send (/mm/)."""
        return await self._run(self._balance_call())

    async def sent_total(self) -> int:
        """Parts sent in total (/mm/ with cmd=send)."""
        return await self._run(self._balance_call(sent=True))

    async def records(
        self, page: int = 1, date: date | None = None, key: str | None = None
    ) -> RecordPage:
        """One page of send records (/rd/), newest first; see `SmsClient.records`."""
        return await self._run(self._records_call(page, date, key))
