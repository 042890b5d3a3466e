"""What the endpoints answer, as frozen dataclasses.

Times are the server's wall-clock times (the protocol's `YYYY-MM-DD HH:MM:SS`,
Beijing time on api.sms.cn), made aware in the client's `zone`; with
`zone=None` they stay naive, exactly as the server wrote them.

Texts are as the server wrote them: a `||` inside a reply or a record comes
back full width (`｜｜`), and a character the server's GBK could not hold as `?`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DELIVERED", "PENDING", "Record", "RecordPage", "Reply", "SendResult", "StatusReport"]

DELIVERED = "100"
"""The status of a delivered message, in /st/ and /rd/."""
PENDING = "0"
"""The /rd/ status of a message still waiting for its report."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """An accepted /mt/ request.

    `mobiles[i]` was sent with id `mobileids[i]`: the ids given, and for the
    numbers without one an id made as the document suggests (the number's
    digits + epoch milliseconds), so every status report can be matched.

    >>> result = sms.send(["13900008888", "13900009999"], "会议改到三点")
    >>> dict(zip(result.mobiles, result.mobileids))
    {'13900008888': '139000088881718000000000', '13900009999': '139000099991718000000000'}
    """

    mobiles: tuple[str, ...]
    mobileids: tuple[str, ...]
    message: str = "发送成功"
    """The server's answer text."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One /st/ line: `mobile,status,mobileid,time`."""

    mobile: str
    status: str
    """`100` delivered; otherwise the upstream's word or code (`UNDELIV`, `MK:0001`...)."""
    mobileid: str
    """The id the message was sent with (`SendResult.mobileids`)."""
    time: datetime

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED


@dataclass(frozen=True, slots=True)
class Reply:
    """One /rx/ reply from a handset: `mobile||content||time||gateway`."""

    mobile: str
    content: str
    time: datetime
    gateway: str
    """The number it was sent to: gateway prefix + the account's extension + `mid`."""


@dataclass(frozen=True, slots=True)
class Record:
    """One /rd/ send record: `time||mobile||content||status`."""

    time: datetime
    mobile: str
    content: str
    status: str
    """`100` delivered, `0` waiting for a report, otherwise the failure word or code."""

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED

    @property
    def pending(self) -> bool:
        return self.status == PENDING


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One /rd/ page (50 records on api.sms.cn), newest first.

    A page past the end, or an account without records, is empty with
    `total == pages == 0`: the protocol answers those with an empty body.

    >>> page = sms.records(page=1, date=date(2024, 6, 1))
    >>> f"{page.total} records on {page.pages} pages"
    '120 records on 3 pages'
    >>> while page.has_next:
    ...     page = sms.records(page=page.page + 1, date=date(2024, 6, 1))
    """

    total: int
    """Records matching the query, on all pages."""
    pages: int
    records: tuple[Record, ...]
    page: int = 1
    """The page asked for."""

    @property
    def has_next(self) -> bool:
        return self.page < self.pages
