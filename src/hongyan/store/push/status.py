"""What waits to be pushed, per account and kind (`hongyan push status`)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, and_, case, func, select

from hongyan.core.states import OutboxKind, OutboxState
from hongyan.store.schema import accounts, push_outbox, push_targets


class StreamStatus(NamedTuple):
    uid: str
    kind: str
    url: str
    queued: int  # not tried yet
    retrying: int  # tried and failed, will be tried again
    given_up: int  # returned to /st/ or /rx/
    oldest_at: int | None  # created_at of the oldest row still queued
    last_error: str
    last_attempt_at: int | None


def status(conn: Connection, account_id: int | None = None) -> list[StreamStatus]:
    """Per account and kind: what waits, what gave up, and the last error seen."""
    where = [] if account_id is None else [push_outbox.c.account_id == account_id]
    counts = conn.execute(
        select(
            push_outbox.c.account_id,
            push_outbox.c.kind,
            func.sum(
                case(
                    (
                        and_(
                            push_outbox.c.state == OutboxState.QUEUED, push_outbox.c.attempts == 0
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("queued"),
            func.sum(
                case(
                    (
                        and_(push_outbox.c.state == OutboxState.QUEUED, push_outbox.c.attempts > 0),
                        1,
                    ),
                    else_=0,
                )
            ).label("retrying"),
            func.sum(case((push_outbox.c.state == OutboxState.GIVEN_UP, 1), else_=0)).label(
                "given_up"
            ),
            func.min(
                case((push_outbox.c.state == OutboxState.QUEUED, push_outbox.c.created_at))
            ).label("oldest"),
            func.max(push_outbox.c.last_attempt_at).label("last_attempt"),
        )
        .where(*where)
        .group_by(push_outbox.c.account_id, push_outbox.c.kind)
    ).all()
    by_stream = {(row.account_id, row.kind): row for row in counts}
    errors: dict[tuple[int, str], str] = {}
    for row in counts:
        if row.last_attempt is not None:
            errors[(row.account_id, row.kind)] = (
                conn.execute(
                    select(push_outbox.c.last_error)
                    .where(
                        push_outbox.c.account_id == row.account_id,
                        push_outbox.c.kind == row.kind,
                        push_outbox.c.last_attempt_at == row.last_attempt,
                    )
                    .limit(1)
                ).scalar()
                or ""
            )
    target_where = [] if account_id is None else [push_targets.c.account_id == account_id]
    urls: dict[tuple[int, str], str] = {}
    for account, reports_url, replies_url in conn.execute(
        select(
            push_targets.c.account_id, push_targets.c.reports_url, push_targets.c.replies_url
        ).where(*target_where)
    ):
        if reports_url:
            urls[(account, OutboxKind.REPORT)] = reports_url
        if replies_url:
            urls[(account, OutboxKind.REPLY)] = replies_url
    keys = sorted(set(by_stream) | set(urls))
    uids: dict[int, str] = {
        account: uid
        for account, uid in conn.execute(
            select(accounts.c.id, accounts.c.uid).where(
                accounts.c.id.in_(sorted({k[0] for k in keys}))
            )
        )
    }
    result = []
    for key in keys:
        counted = by_stream.get(key)
        result.append(
            StreamStatus(
                uids.get(key[0], "?"),
                key[1],
                urls.get(key, ""),
                int(counted.queued or 0) if counted else 0,
                int(counted.retrying or 0) if counted else 0,
                int(counted.given_up or 0) if counted else 0,
                counted.oldest if counted else None,
                errors.get(key, ""),
                counted.last_attempt if counted else None,
            )
        )
    return result
