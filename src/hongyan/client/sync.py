"""`SmsClient`: the blocking client, one method per endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from types import TracebackType
from typing import TypeVar

import httpx

from hongyan.client import parse
from hongyan.client.calls import MAX_NUMBERS, USER_AGENT, Call, ClientBase, transport_error
from hongyan.client.models import RecordPage, Reply, SendResult, StatusReport

__all__ = ["SmsClient"]

T = TypeVar("T")


class SmsClient(ClientBase):
    """A client of an api.sms.cn-protocol server (`/mt/ /st/ /rx/ /mm/ /rd/`).

    Give the login `password` (the client computes `pwd = md5(password + uid)`)
    or `pwd=` already hashed. Use it as a context manager, or `close()` it.

        >>> from hongyan.client import SmsClient
        >>> with SmsClient("http://api.sms.cn", "test", "123123") as sms:
        ...     result = sms.send(["13900008888", "13900009999"], "您的验证码是 1234")
        ...     print(sms.balance())
        ...     for report in sms.reports():      # each report is handed out once
        ...         print(report.mobile, report.mobileid, report.delivered)
        998
        13900008888 139000088881717000000000 True

    `zone` is the server's time zone (Beijing on api.sms.cn): times read from
    answers come back aware in it (`zone=None`: naive, as written), and aware
    datetimes given (`at`, `since`) are converted to it. `timeout` is in
    seconds; `transport` is any `httpx.BaseTransport` (proxies, retries on
    connect, `httpx.MockTransport` in tests). Nothing is retried by the client.
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
        transport: httpx.BaseTransport | None = None,
        max_numbers: int = MAX_NUMBERS,
    ) -> None:
        super().__init__(url, uid, password, pwd=pwd, zone=zone, max_numbers=max_numbers)
        self._http = httpx.Client(
            timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT}
        )

    def __enter__(self) -> SmsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._http.post(call.url, data=call.form)
        except httpx.HTTPError as exc:
            raise transport_error(call.url, exc) from exc
        return call.read(response)

    def send(
        self,
        mobiles: str | Sequence[str],
        content: str,
        *,
        mobileids: str | Sequence[str] | None = None,
        mid: str | None = None,
        at: datetime | None = None,
    ) -> SendResult:
        """Send `content` to one number or many (/mt/), charged all or nothing.

        `mobiles` is a list of numbers or a comma-separated string, at most
        `max_numbers` (2000): more raises ValueError before anything is sent;
        split them yourself, knowing each request is accepted or refused as a
        whole. `mobileids` are matched to the numbers by position; the ones
        not given are made up (number + epoch ms) and returned in the result.
        `mid` (up to 6 digits) extends the source number; `at` schedules the
        send (past: now; at most 30 days ahead, else `BadScheduleTime`).

            >>> sms.send("13900008888", "明天 9:00 开会", at=datetime(2024, 6, 1, 8, 0))
            SendResult(mobiles=('13900008888',), mobileids=('139000088881717...',), ...)
        """
        return self._run(self._send_call(mobiles, content, mobileids, mid, at))

    def reports(self) -> list[StatusReport]:
        """The next status reports (/st/), each handed out once, up to 500 a call.

        Call again while it returns a full batch. A batch lost in transit is not
        handed out again; the records (`records()`) keep the final states.
        """
        return self._run(self._reports_call())

    def replies(self, since: datetime | None = None) -> list[Reply]:
        """The next replies from handsets (/rx/), each handed out once.

        With `since`, every reply received from then on, fetched before or not
        (a later version of the document; a server without it may ignore it).

            >>> [(r.mobile, r.content) for r in sms.replies()]
            [('13900008888', '收到，谢谢')]
        """
        return self._run(self._replies_call(since))

    def balance(self) -> int:
        """Parts (条) left to send (/mm/)."""
        return self._run(self._balance_call())

    def sent_total(self) -> int:
        """Parts sent in total (/mm/ with cmd=send)."""
        return self._run(self._balance_call(sent=True))

    def records(
        self, page: int = 1, date: date | None = None, key: str | None = None
    ) -> RecordPage:
        """One page of send records (/rd/), newest first, optionally of one day or number.

        >>> page = sms.records(key="13900008888")
        >>> [(r.mobile, r.status) for r in page.records]
        [('13900008888', '100')]
        """
        return self._run(self._records_call(page, date, key))
