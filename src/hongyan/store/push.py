"""The push outbox: where reports and replies wait for the customer's server.

A report or reply of an account with a push URL is written with the outbox
row that will carry it, in the same transaction (`insert_reports`,
`enqueue`), and marked taken (`fetched_at`) so `/st/` and `/rx/` do not
also hand it out. If pushing gives up, or the account turns push off, the
item is unmarked and the pull endpoints hand it out as usual.

The pusher claims due rows under a lease (`claim`, `renew`), and records what
happened to them in one batch (`record`): a pushed row is deleted, a failed
one rescheduled, a row past its deadline given up. The handlers are
group-commit handlers (see `store.writer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import ColumnElement

from hongyan.store.schema import accounts, push_outbox, push_targets, replies, reports

REPORT = "report"
REPLY = "reply"
QUEUED = "queued"
GIVEN_UP = "given_up"

_IN_CHUNK = 500
_ITEMS = {REPORT: reports, REPLY: replies}


class Target(NamedTuple):
    replies_url: str
    reports_url: str
    method: str
    secret: str
    batch_reports: bool


def pushing(conn: Connection, account_ids: Iterable[int], kind: str) -> set[int]:
    """Which of these accounts push items of `kind`."""
    url = push_targets.c.reports_url if kind == REPORT else push_targets.c.replies_url
    ids = sorted(set(account_ids))
    found: set[int] = set()
    for chunk in _chunks(ids):
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
                    "state": QUEUED,
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
    to_push = pushing(conn, (row["account_id"] for row in rows), REPORT)
    plain = [row for row in rows if row["account_id"] not in to_push]
    if plain:
        conn.execute(insert(reports), plain)
    pushed = [{**row, "fetched_at": now} for row in rows if row["account_id"] in to_push]
    if pushed:
        ids = conn.execute(
            insert(reports).returning(reports.c.id, sort_by_parameter_order=True), pushed
        ).scalars()
        items = [(row["account_id"], i) for row, i in zip(pushed, ids, strict=True)]
        enqueue(conn, REPORT, items, now)


# -- configuration ---------------------------------------------------------------


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
        fall_back(conn, account_id, REPORT)
    if new is None or not new.replies_url:
        fall_back(conn, account_id, REPLY)


def fall_back(conn: Connection, account_id: int, kind: str) -> int:
    """Return an account's queued items of `kind` to the pull endpoints; how many."""
    ids = list(
        conn.execute(
            select(push_outbox.c.item_id).where(
                push_outbox.c.account_id == account_id,
                push_outbox.c.kind == kind,
                push_outbox.c.state == QUEUED,
            )
        ).scalars()
    )
    _unmark(conn, kind, ids)
    conn.execute(
        delete(push_outbox).where(
            push_outbox.c.account_id == account_id,
            push_outbox.c.kind == kind,
            push_outbox.c.state == QUEUED,
        )
    )
    return len(ids)


def _unmark(conn: Connection, kind: str, item_ids: Sequence[int]) -> None:
    table = _ITEMS[kind]
    for chunk in _chunks(sorted(item_ids)):
        conn.execute(update(table).where(table.c.id.in_(chunk)).values(fetched_at=None))


# -- the pusher's side -------------------------------------------------------------


class ClaimRequest(NamedTuple):
    now: int
    lease_ms: int
    limit: int
    skip_accounts: tuple[int, ...]


class Claimed(NamedTuple):
    id: int
    account_id: int
    kind: str
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
                (push_outbox.c.kind == REPORT, push_targets.c.reports_url),
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
            reports, and_(push_outbox.c.kind == REPORT, reports.c.id == push_outbox.c.item_id)
        )
        .outerjoin(
            replies, and_(push_outbox.c.kind == REPLY, replies.c.id == push_outbox.c.item_id)
        )
        .where(*_due(request))
        .order_by(push_outbox.c.id)
        .limit(request.limit)
        .with_for_update(skip_locked=True, of=push_outbox)
    )
    rows = conn.execute(query).all()
    if not rows:
        return []
    for chunk in _chunks([row.id for row in rows]):
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id.in_(chunk))
            .values(lease_until=now + request.lease_ms)
        )
    return [
        Claimed(
            row.id,
            row.account_id,
            row.kind,
            row.item_id,
            row.attempts,
            row.created_at,
            row.uid,
            row.url or "",
            row.method or "GET",
            row.secret or "",
            bool(row.batch_reports),
            row.mobile or "",
            row.mobileid or "",
            row.status or "",
            row.content or "",
            row.gateway or "",
            row.at or row.created_at,
        )
        for row in rows
    ]


def _due(request: ClaimRequest) -> list[ColumnElement[bool]]:
    now = request.now
    where = [
        push_outbox.c.state == QUEUED,
        push_outbox.c.next_at <= now,
        or_(push_outbox.c.lease_until.is_(None), push_outbox.c.lease_until < now),
    ]
    if request.skip_accounts:
        where.append(push_outbox.c.account_id.not_in(request.skip_accounts))
    return where


DELIVERED = "delivered"
RETRY = "retry"
GIVE_UP = "give_up"
RELEASE = "release"  # not tried (shutting down, host's breaker open): due again at next_at


class Outcome(NamedTuple):
    id: int
    kind: str
    item_id: int
    result: str
    next_at: int = 0
    error: str = ""
    at: int = 0


def record(conn: Connection, batches: list[list[Outcome]]) -> list[None]:
    """Apply what happened to claimed rows, all batches in one transaction."""
    outcomes = [o for batch in batches for o in batch]
    done = [o.id for o in outcomes if o.result == DELIVERED]
    for chunk in _chunks(done):
        conn.execute(delete(push_outbox).where(push_outbox.c.id.in_(chunk)))
    tried = [o for o in outcomes if o.result in (RETRY, GIVE_UP)]
    if tried:
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id == bindparam("b_id"), push_outbox.c.state == QUEUED)
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
                    "b_state": GIVEN_UP if o.result == GIVE_UP else QUEUED,
                    "b_next": o.next_at,
                    "b_error": o.error[:200],
                    "b_at": o.at,
                }
                for o in tried
            ],
        )
    for kind in (REPORT, REPLY):
        _unmark(conn, kind, [o.item_id for o in outcomes if o.result == GIVE_UP and o.kind == kind])
    released = [o for o in outcomes if o.result == RELEASE]
    if released:
        conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id == bindparam("b_id"))
            .values(next_at=bindparam("b_next"), lease_until=None),
            [{"b_id": o.id, "b_next": o.next_at} for o in released],
        )
    return [None] * len(batches)


class Renewal(NamedTuple):
    ids: tuple[int, ...]
    lease_until: int


def renew(conn: Connection, renewals: list[Renewal]) -> list[None]:
    """Extend the lease of rows a pusher still holds."""
    for renewal in renewals:
        for chunk in _chunks(sorted(renewal.ids)):
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
        for chunk in _chunks(sorted(r.account_ids)):
            when = (
                push_outbox.c.next_at > r.next_at
                if r.earlier_only
                else push_outbox.c.next_at < r.next_at
            )
            count += conn.execute(
                update(push_outbox)
                .where(
                    push_outbox.c.account_id.in_(chunk),
                    push_outbox.c.state == QUEUED,
                    or_(push_outbox.c.lease_until.is_(None), push_outbox.c.lease_until < r.now),
                    when,
                )
                .values(next_at=r.next_at)
            ).rowcount
        counts.append(count)
    return counts


# -- visibility --------------------------------------------------------------------


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
                case((and_(push_outbox.c.state == QUEUED, push_outbox.c.attempts == 0), 1), else_=0)
            ).label("queued"),
            func.sum(
                case((and_(push_outbox.c.state == QUEUED, push_outbox.c.attempts > 0), 1), else_=0)
            ).label("retrying"),
            func.sum(case((push_outbox.c.state == GIVEN_UP, 1), else_=0)).label("given_up"),
            func.min(case((push_outbox.c.state == QUEUED, push_outbox.c.created_at))).label(
                "oldest"
            ),
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
            urls[(account, REPORT)] = reports_url
        if replies_url:
            urls[(account, REPLY)] = replies_url
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


def due_exists(conn: Connection, request: ClaimRequest) -> bool:
    """Whether a claim would find anything (a read, so an idle pusher writes nothing)."""
    query = select(push_outbox.c.id).where(*_due(request)).limit(1)
    return conn.execute(query).first() is not None


def oldest_queued(conn: Connection) -> int | None:
    """created_at of the oldest row waiting to be pushed."""
    value: int | None = conn.execute(
        select(func.min(push_outbox.c.created_at)).where(push_outbox.c.state == QUEUED)
    ).scalar()
    return value


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]
