"""What a customer's history is made of: the filters of the console's records
and replies, what each status means to a person, and the rows they see.

The store turns a filter into a query (`store/history.py`); the rules here
(which statuses are "delivered", "failed", "waiting"; a day is a Beijing
day; the `to` date counts whole) are the only place they are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from hongyan.core.numbers import normalise_key
from hongyan.core.states import Status, StatusClass
from hongyan.errors import InvalidInput

T = TypeVar("T")

# A status filter longer than any status the store keeps matches nothing anyway.
STATUS_MAX_LENGTH = 20
SEARCH_MAX_LENGTH = 100
# Rows a console page shows, and rows an export reads per query: small enough
# that neither the driver nor the server ever holds more than a chunk.
PAGE_SIZE = 50
EXPORT_CHUNK = 5000


def status_class(status: str) -> StatusClass:
    if status == Status.DELIVERED:
        return StatusClass.DELIVERED
    if status == Status.WAITING:
        return StatusClass.WAITING
    return StatusClass.FAILED


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which of an account's messages: all fields optional, all must hold.

    `status` is a `StatusClass` value or one exact status (`UNDELIV`)."""

    since: int | None = None  # epoch ms, inclusive
    until: int | None = None  # epoch ms, exclusive
    mobile: str | None = None
    status: str | None = None
    batch: int | None = None


@dataclass(frozen=True, slots=True)
class ReplyFilter:
    since: int | None = None
    until: int | None = None
    mobile: str | None = None
    text: str | None = None  # a substring, any case


def date_range(start: str, end: str, zone: ZoneInfo) -> tuple[int | None, int | None]:
    """[since, until) epoch ms of local `YYYY-MM-DD` dates, `end` counted whole."""
    since = until = None
    try:
        if start.strip():
            since = _midnight(datetime.strptime(start.strip(), "%Y-%m-%d"), zone)
        if end.strip():
            day = datetime.strptime(end.strip(), "%Y-%m-%d") + timedelta(days=1)
            until = _midnight(day, zone)
    except (ValueError, OverflowError):
        raise InvalidInput("a date is YYYY-MM-DD") from None
    return since, until


def _midnight(day: datetime, zone: ZoneInfo) -> int:
    return int(day.replace(tzinfo=zone).timestamp() * 1000)


def message_filter(
    zone: ZoneInfo,
    *,
    start: str = "",
    end: str = "",
    number: str = "",
    status: str = "",
    batch: str = "",
) -> MessageFilter:
    """A filter from what a person typed; `InvalidInput` for what cannot be read."""
    since, until = date_range(start, end, zone)
    status = status.strip()
    if len(status) > STATUS_MAX_LENGTH:
        raise InvalidInput("no status is that long")
    batch_id = None
    if batch.strip():
        if not batch.strip().isdigit() or len(batch.strip()) > 18:
            raise InvalidInput("a batch is a number")
        batch_id = int(batch.strip())
    return MessageFilter(since, until, _number(number), status or None, batch_id)


def reply_filter(
    zone: ZoneInfo, *, start: str = "", end: str = "", number: str = "", text: str = ""
) -> ReplyFilter:
    since, until = date_range(start, end, zone)
    text = text.strip()
    if len(text) > SEARCH_MAX_LENGTH:
        raise InvalidInput("the search text is too long")
    return ReplyFilter(since, until, _number(number), text or None)


def _number(raw: str) -> str | None:
    """The number as the store keeps it (what /rd/'s `key` matches too)."""
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) > 40:
        raise InvalidInput("no number is that long")
    return normalise_key(raw)


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    created_at: int
    mobile: str
    content: str
    parts: int
    status: str
    mobileid: str
    submission_id: int
    done_at: int | None

    @property
    def status_class(self) -> StatusClass:
        return status_class(self.status)


@dataclass(frozen=True, slots=True)
class ReplyRow:
    id: int
    received_at: int
    mobile: str
    content: str
    gateway: str
    fetched_at: int | None
    pushed_at: int | None
    push_waiting: bool  # in the push outbox, not pushed yet


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    """One page of rows newest first, and the ids to page from (None: no more)."""

    rows: tuple[T, ...]
    newer: int | None
    older: int | None


@dataclass(frozen=True, slots=True)
class PartRow:
    seq: int
    channel: str
    upstream_id: str
    state: str
    status: str
    submitted_at: int
    done_at: int | None


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: int
    status: str
    created_at: int
    fetched_at: int | None
    pushed_at: int | None
    push_waiting: bool
    push_error: str


@dataclass(frozen=True, slots=True)
class LedgerRow:
    kind: str
    delta: int
    balance_after: int
    note: str
    created_at: int


@dataclass(frozen=True, slots=True)
class MessageDetail:
    message: MessageRow
    charged: int
    due_at: int
    source: str
    channel: str | None
    attempts: int
    parts: tuple[PartRow, ...]
    reports: tuple[ReportRow, ...]
    refunds: tuple[LedgerRow, ...]
