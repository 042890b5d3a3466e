"""The `time` parameter of `/mt/` (PROTOCOL.md "/mt/ send", `time`).

Accepted forms: `YYYY-MM-DD HH:MM` (the document's own), `YYYY-MM-DD HH:MM:SS`
and `YYYYMMDDHHMMSS`, in the platform's zone (default Asia/Shanghai).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S")


class ScheduleError(ValueError):
    """The time cannot be read, or is too far ahead."""


def parse_schedule(raw: str, zone: ZoneInfo, now_ms: int, max_days: int) -> int | None:
    """Epoch milliseconds when the send is due, or None for "now".

    A time in the past sends now; more than `max_days` ahead is an error.
    """
    raw = raw.strip()
    if not raw:
        return None
    for fmt in _FORMATS:
        try:
            local = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        due_ms = int(local.replace(tzinfo=zone).timestamp() * 1000)
        if due_ms <= now_ms:
            return None
        if due_ms - now_ms > max_days * 86_400_000:
            raise ScheduleError(f"more than {max_days} days ahead")
        return due_ms
    raise ScheduleError("unreadable time")


def format_local(epoch_ms: int, zone: ZoneInfo) -> str:
    """`YYYY-MM-DD HH:MM:SS` in the platform's zone, the spec's report time form."""
    return datetime.fromtimestamp(epoch_ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def day_bounds(raw: str, zone: ZoneInfo) -> tuple[int, int]:
    """[start, end) epoch milliseconds of a local `YYYY-MM-DD` day."""
    day = datetime.strptime(raw.strip(), "%Y-%m-%d").replace(tzinfo=zone)
    start = int(day.timestamp() * 1000)
    end = int((day + timedelta(days=1)).timestamp() * 1000)
    return start, end
