"""What the latest push requests of an account got: the console's "last deliveries".

Written by the pusher in the group commit of its outcomes (`record`: one
insert for the batch, and one prune per account in it, so an account keeps
its newest `KEPT` rows); read by the console (`latest`).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, delete, insert, select

from hongyan.store.schema import push_attempts

# Rows an account keeps; the console lists the newest 20 of them.
KEPT = 100


class Attempt(NamedTuple):
    account_id: int
    at: int
    kind: str  # an OutboxKind
    host: str
    status: int | None  # the HTTP status; None when no answer came
    error: str  # "" when it was delivered
    answer: str  # the start of the answer's body
    items: int  # reports or replies the request carried


def record(conn: Connection, batches: list[list[Attempt]]) -> list[None]:
    """Group-commit handler: keep the attempts, and only the newest `KEPT` of an account."""
    rows = [a._asdict() for batch in batches for a in batch]
    if rows:
        for row in rows:
            row["error"] = row["error"][:200]
            row["answer"] = row["answer"][:200]
            row["host"] = row["host"][:255]
        conn.execute(insert(push_attempts), rows)
    for account_id in sorted({row["account_id"] for row in rows}):
        prune(conn, account_id)
    return [None] * len(batches)


def prune(conn: Connection, account_id: int, keep: int = KEPT) -> None:
    """Drop all but the newest `keep` rows of the account (by id: the insert order)."""
    oldest_kept = conn.execute(
        select(push_attempts.c.id)
        .where(push_attempts.c.account_id == account_id)
        .order_by(push_attempts.c.id.desc())
        .offset(keep - 1)
        .limit(1)
    ).scalar()
    if oldest_kept is not None:
        conn.execute(
            delete(push_attempts).where(
                push_attempts.c.account_id == account_id, push_attempts.c.id < oldest_kept
            )
        )


def latest(conn: Connection, account_id: int, limit: int = 20) -> list[Attempt]:
    """The account's newest attempts, the latest first."""
    columns = [push_attempts.c[name] for name in Attempt._fields]
    rows = conn.execute(
        select(*columns)
        .where(push_attempts.c.account_id == account_id)
        .order_by(push_attempts.c.id.desc())
        .limit(limit)
    ).all()
    return [Attempt(*row) for row in rows]
