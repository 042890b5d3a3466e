"""The push outbox, writing side: where an account pushes to, and reports and
replies entering the outbox in the transaction that records them.

A report or reply of an account with a push URL is written with the outbox
row that will carry it (`insert_reports`, `enqueue`) and marked taken
(`fetched_at`) so `/st/` and `/rx/` do not also hand it out. If the account
turns push off for a kind, its queued items are unmarked and go back to pull.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, delete, insert, select, update

from hongyan.core.states import OutboxKind, OutboxState
from hongyan.store.schema import push_outbox, push_targets, replies, reports
from hongyan.store.sql import chunks

ITEMS: dict[str, Table] = {OutboxKind.REPORT: reports, OutboxKind.REPLY: replies}


class Target(NamedTuple):
    replies_url: str
    reports_url: str
    method: str
    secret: str
    batch_reports: bool


def pushing(conn: Connection, account_ids: Iterable[int], kind: str) -> set[int]:
    """Which of these accounts push items of `kind`."""
    url = push_targets.c.reports_url if kind == OutboxKind.REPORT else push_targets.c.replies_url
    ids = sorted(set(account_ids))
    found: set[int] = set()
    for chunk in chunks(ids):
        found.update(
            conn.execute(
                select(push_targets.c.account_id).where(
                    push_targets.c.account_id.in_(chunk), url != ""
                )
            ).scalars()
        )
    return found


def enqueue(conn: Connection, kind: str, items: Sequence[tuple[int, int]], now: int) -> None:
    """Outbox rows for (account id, item id) pairs, due now."""
    if items:
        conn.execute(
            insert(push_outbox),
            [
                {
                    "account_id": account_id,
                    "kind": kind,
                    "item_id": item_id,
                    "state": OutboxState.QUEUED,
                    "attempts": 0,
                    "created_at": now,
                    "next_at": now,
                }
                for account_id, item_id in items
            ],
        )


def insert_reports(conn: Connection, rows: list[dict[str, Any]], now: int) -> None:
    """Insert report rows; those of accounts that push reports also go to the outbox."""
    if not rows:
        return
    to_push = pushing(conn, (row["account_id"] for row in rows), OutboxKind.REPORT)
    plain = [row for row in rows if row["account_id"] not in to_push]
    if plain:
        conn.execute(insert(reports), plain)
    pushed = [{**row, "fetched_at": now} for row in rows if row["account_id"] in to_push]
    if pushed:
        ids = conn.execute(
            insert(reports).returning(reports.c.id, sort_by_parameter_order=True), pushed
        ).scalars()
        items = [(row["account_id"], i) for row, i in zip(pushed, ids, strict=True)]
        enqueue(conn, OutboxKind.REPORT, items, now)


def target(conn: Connection, account_id: int) -> Target | None:
    row = conn.execute(
        select(
            push_targets.c.replies_url,
            push_targets.c.reports_url,
            push_targets.c.method,
            push_targets.c.secret,
            push_targets.c.batch_reports,
        ).where(push_targets.c.account_id == account_id)
    ).first()
    return Target(*row) if row else None


def set_target(conn: Connection, account_id: int, new: Target | None, now: int) -> None:
    """Set (or with None remove) an account's push target.

    Items queued for a kind whose URL is removed go back to pull at once;
    items of a kind whose URL changed go to the new URL.
    """
    conn.execute(delete(push_targets).where(push_targets.c.account_id == account_id))
    if new is not None and (new.replies_url or new.reports_url):
        values = {**new._asdict(), "account_id": account_id, "updated_at": now}
        conn.execute(insert(push_targets).values(**values))
    if new is None or not new.reports_url:
        fall_back(conn, account_id, OutboxKind.REPORT)
    if new is None or not new.replies_url:
        fall_back(conn, account_id, OutboxKind.REPLY)


def fall_back(conn: Connection, account_id: int, kind: str) -> int:
    """Return an account's queued items of `kind` to the pull endpoints; how many."""
    ids = list(
        conn.execute(
            select(push_outbox.c.item_id).where(
                push_outbox.c.account_id == account_id,
                push_outbox.c.kind == kind,
                push_outbox.c.state == OutboxState.QUEUED,
            )
        ).scalars()
    )
    unmark(conn, kind, ids)
    conn.execute(
        delete(push_outbox).where(
            push_outbox.c.account_id == account_id,
            push_outbox.c.kind == kind,
            push_outbox.c.state == OutboxState.QUEUED,
        )
    )
    return len(ids)


def unmark(conn: Connection, kind: str, item_ids: Sequence[int]) -> None:
    table = ITEMS[kind]
    for chunk in chunks(sorted(item_ids)):
        conn.execute(update(table).where(table.c.id.in_(chunk)).values(fetched_at=None))
