"""The push outbox, the pusher's side: claiming due rows under a lease
(`claim`, `renew`), recording what happened to them in one batch (`record`:
a pushed row is deleted, a failed one rescheduled, a row past its deadline
given up and its item returned to pull), and moving a host's rows when its
circuit breaker opens or closes (`reschedule`). Group-commit handlers (see
`store.writer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.sql.expression import ColumnElement

from hongyan.core.states import OutboxKind, OutboxState, PushResult
from hongyan.store.push.outbox import ITEMS, unmark
from hongyan.store.schema import accounts, push_outbox, push_targets, replies, reports
from hongyan.store.sql import chunks


class ClaimRequest(NamedTuple):
    now: int
    lease_ms: int
    limit: int
    skip_accounts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row a pusher holds under lease, with what it needs to push it."""

    id: int
    account_id: int
    kind: str  # an OutboxKind
    item_id: int
    attempts: int  # tries before this one
    created_at: int
    uid: str
    url: str  # "" when the account no longer pushes this kind
    method: str
    secret: str
    batch: bool
    mobile: str
    mobileid: str  # reports
    status: str  # reports
    content: str  # replies
    gateway: str  # replies
    at: int  # when the report was made or the reply received

    @classmethod
    def from_row(cls, row: Any) -> Claimed:
        return cls(
            id=row.id,
            account_id=row.account_id,
            kind=row.kind,
            item_id=row.item_id,
            attempts=row.attempts,
            created_at=row.created_at,
            uid=row.uid,
            url=row.url or "",
            method=row.method or "GET",
            secret=row.secret or "",
            batch=bool(row.batch_reports),
            mobile=row.mobile or "",
            mobileid=row.mobileid or "",
            status=row.status or "",
            content=row.content or "",
            gateway=row.gateway or "",
            at=row.at or row.created_at,
        )


def claim(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
    return [_claim_one(conn, r) for r in requests]


def _claim_one(conn: Connection, request: ClaimRequest) -> list[Claimed]:
    now = request.now
    query = (
        select(
            push_outbox.c.id,
            push_outbox.c.account_id,
            push_outbox.c.kind,
            push_outbox.c.item_id,
            push_outbox.c.attempts,
            push_outbox.c.created_at,
            accounts.c.uid,
            case(
                (push_outbox.c.kind == OutboxKind.REPORT, push_targets.c.reports_url),
                else_=push_targets.c.replies_url,
            ).label("url"),
            push_targets.c.method,
            push_targets.c.secret,
            push_targets.c.batch_reports,
            func.coalesce(reports.c.mobile, replies.c.mobile).label("mobile"),
            reports.c.mobileid,
            reports.c.status,
            replies.c.content,
            replies.c.gateway,
            func.coalesce(reports.c.created_at, replies.c.received_at).label("at"),
        )
        .select_from(push_outbox)
        .join(accounts, accounts.c.id == push_outbox.c.account_id)
        .outerjoin(push_targets, push_targets.c.account_id == push_outbox.c.account_id)
        .outerjoin(
            reports,
            and_(push_outbox.c.kind == OutboxKind.REPORT, reports.c.id == push_outbox.c.item_id),
        )
        .outerjoin(
            replies,
            and_(push_outbox.c.kind == OutboxKind.REPLY, replies.c.id == push_outbox.c.item_id),
        )
        .where(*_due(request))
        .order_by(push_outbox.c.id)
        .limit(request.limit)
        .with_for_update(skip_locked=True, of=push_outbox)
    )
    rows = conn.execute(query).all()
    if not rows:
        return []
    for chunk in chunks([row.id for row in rows]):
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id.in_(chunk))
            .values(lease_until=now + request.lease_ms)
        )
    return [Claimed.from_row(row) for row in rows]


def _due(request: ClaimRequest) -> list[ColumnElement[bool]]:
    now = request.now
    where = [
        push_outbox.c.state == OutboxState.QUEUED,
        push_outbox.c.next_at <= now,
        or_(push_outbox.c.lease_until.is_(None), push_outbox.c.lease_until < now),
    ]
    if request.skip_accounts:
        where.append(push_outbox.c.account_id.not_in(request.skip_accounts))
    return where


class Outcome(NamedTuple):
    id: int
    kind: str
    item_id: int
    result: PushResult
    next_at: int = 0
    error: str = ""
    at: int = 0


def record(conn: Connection, batches: list[list[Outcome]]) -> list[None]:
    """Apply what happened to claimed rows, all batches in one transaction."""
    outcomes = [o for batch in batches for o in batch]
    done = [o.id for o in outcomes if o.result == PushResult.DELIVERED]
    for chunk in chunks(done):
        conn.execute(delete(push_outbox).where(push_outbox.c.id.in_(chunk)))
    _mark_pushed(conn, [o for o in outcomes if o.result == PushResult.DELIVERED])
    tried = [o for o in outcomes if o.result in (PushResult.RETRY, PushResult.GIVE_UP)]
    if tried:
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id == bindparam("b_id"), push_outbox.c.state == OutboxState.QUEUED)
            .values(
                state=bindparam("b_state"),
                attempts=push_outbox.c.attempts + 1,
                next_at=bindparam("b_next"),
                last_error=bindparam("b_error"),
                last_attempt_at=bindparam("b_at"),
                lease_until=None,
            ),
            [
                {
                    "b_id": o.id,
                    "b_state": OutboxState.GIVEN_UP
                    if o.result == PushResult.GIVE_UP
                    else OutboxState.QUEUED,
                    "b_next": o.next_at,
                    "b_error": o.error[:200],
                    "b_at": o.at,
                }
                for o in tried
            ],
        )
    for kind in OutboxKind:
        unmark(
            conn,
            kind,
            [o.item_id for o in outcomes if o.result == PushResult.GIVE_UP and o.kind == kind],
        )
    released = [o for o in outcomes if o.result == PushResult.RELEASE]
    if released:
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id == bindparam("b_id"))
            .values(next_at=bindparam("b_next"), lease_until=None),
            [{"b_id": o.id, "b_next": o.next_at} for o in released],
        )
    return [None] * len(batches)


def _mark_pushed(conn: Connection, delivered: list[Outcome]) -> None:
    """When each pushed report or reply reached the customer: the outbox row
    leaves, and the console still tells "pushed" from "fetched by /st/ or /rx/"."""
    for kind, table in ITEMS.items():
        rows = [{"b_id": o.item_id, "b_at": o.at} for o in delivered if o.kind == kind]
        if rows:
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(pushed_at=bindparam("b_at")),
                rows,
            )


class Renewal(NamedTuple):
    ids: tuple[int, ...]
    lease_until: int


def renew(conn: Connection, renewals: list[Renewal]) -> list[None]:
    """Extend the lease of rows a pusher still holds."""
    for renewal in renewals:
        for chunk in chunks(sorted(renewal.ids)):
            conn.execute(
                update(push_outbox)
                .where(push_outbox.c.id.in_(chunk))
                .values(lease_until=renewal.lease_until)
            )
    return [None] * len(renewals)


class Reschedule(NamedTuple):
    account_ids: tuple[int, ...]
    next_at: int
    now: int
    earlier_only: bool  # True: bring later rows forward; False: push due rows back


def reschedule(conn: Connection, requests: list[Reschedule]) -> list[int]:
    """Move the unleased queued rows of some accounts to `next_at`.

    A host's breaker opening pushes its due rows back, so claims do not keep
    taking them; its recovery brings backed-off rows forward, so the backlog
    goes out now and in order.
    """
    counts = []
    for r in requests:
        count = 0
        for chunk in chunks(sorted(r.account_ids)):
            when = (
                push_outbox.c.next_at > r.next_at
                if r.earlier_only
                else push_outbox.c.next_at < r.next_at
            )
            count += conn.execute(
                update(push_outbox)
                .where(
                    push_outbox.c.account_id.in_(chunk),
                    push_outbox.c.state == OutboxState.QUEUED,
                    or_(push_outbox.c.lease_until.is_(None), push_outbox.c.lease_until < r.now),
                    when,
                )
                .values(next_at=r.next_at)
            ).rowcount
        counts.append(count)
    return counts


def due_exists(conn: Connection, request: ClaimRequest) -> bool:
    """Whether a claim would find anything (a read, so an idle pusher writes nothing)."""
    query = select(push_outbox.c.id).where(*_due(request)).limit(1)
    return conn.execute(query).first() is not None


def oldest_queued(conn: Connection) -> int | None:
    """created_at of the oldest row waiting to be pushed."""
    value: int | None = conn.execute(
        select(func.min(push_outbox.c.created_at)).where(push_outbox.c.state == OutboxState.QUEUED)
    ).scalar()
    return value
