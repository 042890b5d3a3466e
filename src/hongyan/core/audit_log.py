"""Reading the audit log: operator actions, newest first, for the CLI and the console.

An entry's `before` and `after` are JSON objects of the fields an action
replaced and set (core/audit.py); `changes` reads them back as the fields
that differ, for a person to see what an action did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hongyan.errors import InvalidInput
from hongyan.store import audit as audit_store
from hongyan.store.audit import Entry
from hongyan.store.database import Database

MOST = 1000  # entries one listing shows at most
# The field name of a before or after that is a single value, not an object.
VALUE = "value"

__all__ = ["MOST", "Change", "Entry", "changes", "entries", "time_range"]


async def entries(
    db: Database,
    *,
    actor: str = "",
    action: str = "",
    target: str = "",
    since: int | None = None,
    until: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Entries newest first: of one actor, of actions beginning `action`
    ("account." for every account action), of one target ("account:demo"),
    written in [since, until) (epoch ms); `before_id` pages back."""
    if not 1 <= limit <= MOST:
        raise InvalidInput(f"the limit is 1 to {MOST} entries")
    return await db.read_sync(
        lambda conn: audit_store.search(
            conn,
            actor=actor,
            action=action,
            target=target,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        )
    )


def time_range(first: str, last: str, zone: ZoneInfo) -> tuple[int | None, int | None]:
    """[since, until) in epoch ms of local dates `YYYY-MM-DD`, both included;
    an empty one leaves that side open. `InvalidInput` for a date that cannot
    be read or a first day after the last."""
    try:
        start = date.fromisoformat(first.strip()) if first.strip() else None
        end = date.fromisoformat(last.strip()) if last.strip() else None
    except ValueError:
        raise InvalidInput("dates are YYYY-MM-DD") from None
    if start is not None and end is not None and start > end:
        raise InvalidInput("the first day is after the last")

    def midnight(day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)

    since = midnight(start) if start is not None else None
    until = midnight(end + timedelta(days=1)) if end is not None else None
    return since, until


@dataclass(frozen=True, slots=True)
class Change:
    """One field an action changed; a field only `after` has was added (no
    `before` to show), one only `before` has was removed."""

    field: str
    before: Any
    after: Any
    had: bool = True  # `before` names the field
    has: bool = True  # `after` names the field


def _read(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {VALUE: text}  # not written by core/audit.py; shown as it is
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return {} if value is None else {VALUE: value}


def changes(entry: Entry) -> list[Change]:
    """The fields whose value differs between the entry's before and after, in
    the order the entry names them (before's fields first)."""
    before, after = _read(entry.before), _read(entry.after)
    fields = list(before) + [name for name in after if name not in before]
    return [
        Change(name, before.get(name), after.get(name), name in before, name in after)
        for name in fields
        if (name in before) != (name in after) or before[name] != after[name]
    ]
