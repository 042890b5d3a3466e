"""Claiming due messages under a lease, renewing it, and what waits.

A dispatcher claims a batch of due messages under a lease (`lease_until`);
one that dies leaves the lease to expire and the messages are claimed again.
Parts already accepted upstream are recorded in `message_parts` and never
submitted again: a claim says which ones were (`submitted_seqs`).
Group-commit handlers (see `store.writer`), but for the reads at the end.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, Integer, and_, bindparam, func, or_, select, update

from hongyan.core.models import Claimed, SentPart
from hongyan.core.states import MessageState, PartState
from hongyan.store.schema import accounts, channel_leases, message_parts, messages, submissions
from hongyan.store.sql import chunks


class ClaimRequest(NamedTuple):
    now: int
    lease_ms: int
    limit: int
    # With channel ownership (dispatch/ownership.py): the claiming node and
    # the channels it holds. It claims messages routed to those (while the
    # store still has its lease on them), messages not routed yet, and those
    # routed to a channel no node is configured with; None: any message.
    node: str = ""
    owned: tuple[str, ...] | None = None


def claim(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
    return [_claim_one(conn, r) for r in requests]


# Built once: a statement made anew for every call costs more Python than its
# execution on a small batch (SQLAlchemy coerces every clause and makes a cache
# key for it); a module-level one keeps its memoized key (bench/store_path.py).
_DUE_ANY = (
    select(
        messages.c.id,
        messages.c.account_id,
        accounts.c.uid,
        messages.c.mobile,
        messages.c.parts,
        messages.c.attempts,
        messages.c.created_at,
        submissions.c.content,
        submissions.c.source,
        messages.c.channel,
    )
    .join(submissions, submissions.c.id == messages.c.submission_id)
    .join(accounts, accounts.c.id == messages.c.account_id)
    .where(
        messages.c.state == MessageState.QUEUED,
        messages.c.due_at <= bindparam("b_now"),
        or_(messages.c.lease_until.is_(None), messages.c.lease_until < bindparam("b_now")),
    )
    .order_by(messages.c.due_at, messages.c.id)
    .limit(bindparam("b_limit", type_=Integer))
    .with_for_update(skip_locked=True, of=messages)
)
_LEASED_HERE = select(channel_leases.c.channel).where(
    channel_leases.c.owner == bindparam("b_node"),
    channel_leases.c.lease_until >= bindparam("b_now"),
)
_DUE_OWNED = _DUE_ANY.where(
    or_(
        messages.c.channel.is_(None),
        and_(
            messages.c.channel.in_(bindparam("b_owned", expanding=True)),
            messages.c.channel.in_(_LEASED_HERE),
        ),
        messages.c.channel.not_in(select(channel_leases.c.channel)),
    )
)
_LEASE = (
    update(messages)
    .where(messages.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(lease_until=bindparam("b_lease"), attempts=messages.c.attempts + 1)
)
_SUBMITTED = select(message_parts.c.message_id, message_parts.c.seq).where(
    message_parts.c.message_id.in_(bindparam("b_ids", expanding=True))
)


def _claim_one(conn: Connection, request: ClaimRequest) -> list[Claimed]:
    now = request.now
    if request.owned is None:
        rows = conn.execute(_DUE_ANY, {"b_now": now, "b_limit": request.limit}).all()
    else:
        parameters = {"b_node": request.node, "b_owned": list(request.owned)}
        due = {"b_now": now, "b_limit": request.limit, **parameters}
        rows = conn.execute(_DUE_OWNED, due).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    submitted: dict[int, set[int]] = {}
    for chunk in chunks(ids):
        conn.execute(_LEASE, {"b_ids": chunk, "b_lease": now + request.lease_ms})
        for message_id, seq in conn.execute(_SUBMITTED, {"b_ids": chunk}):
            submitted.setdefault(message_id, set()).add(seq)
    return [
        Claimed(
            id=row.id,
            account_id=row.account_id,
            uid=row.uid,
            mobile=row.mobile,
            content=row.content,
            source=row.source,
            parts=row.parts,
            attempts=row.attempts + 1,
            created_at=row.created_at,
            submitted_seqs=frozenset(submitted.get(row.id, ())),
            channel=row.channel or "",
        )
        for row in rows
    ]


class LeaseRenewal(NamedTuple):
    held: tuple[tuple[int, int], ...]  # (message id, its claim: Claimed.attempts)
    lease_until: int


_RENEW = (
    update(messages)
    .where(
        messages.c.id == bindparam("b_id"),
        messages.c.attempts == bindparam("b_attempt"),
        messages.c.lease_until.is_not(None),
    )
    .values(lease_until=bindparam("b_lease"))
)


def renew_leases(conn: Connection, renewals: list[LeaseRenewal]) -> list[None]:
    """Extend the lease of messages a dispatcher still holds: claimed, their
    outcome not yet recorded (recording clears the lease, and a cleared one
    stays cleared), and claimed by no one since (a dispatcher that stalled
    past its lease cannot take a message back from the one that claimed it)."""
    rows = [
        {"b_id": message_id, "b_attempt": attempt, "b_lease": renewal.lease_until}
        for renewal in renewals
        for message_id, attempt in sorted(renewal.held)
    ]
    if rows:
        conn.execute(_RENEW, rows)
    return [None] * len(renewals)


def sent_parts(conn: Connection, channel: str) -> list[SentPart]:
    """Parts submitted through `channel` that still wait for their receipt."""
    rows = conn.execute(
        select(message_parts.c.upstream_id, messages.c.mobile, message_parts.c.submitted_at)
        .join(messages, messages.c.id == message_parts.c.message_id)
        .where(and_(message_parts.c.channel == channel, message_parts.c.state == PartState.SENT))
    )
    return [SentPart(*row) for row in rows]


def queue_depth(conn: Connection) -> dict[str, int]:
    """Messages waiting to be submitted, and submitted ones waiting for receipts."""
    waiting = (MessageState.QUEUED, MessageState.SENT)
    rows = conn.execute(
        select(messages.c.state, func.count())
        .where(messages.c.state.in_(waiting))
        .group_by(messages.c.state)
    )
    return {**dict.fromkeys(waiting, 0), **{state: int(count) for state, count in rows}}
