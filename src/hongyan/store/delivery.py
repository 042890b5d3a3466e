"""Delivery state: claiming due messages, recording submits, receipts, finals.

Every function here is a group-commit handler (synchronous, see
`store.writer`). The rules that keep "exactly one final state and one report
per message" true through crashes and duplicates:

- A message is claimed under a lease (`lease_until`); a dispatcher that dies
  leaves the lease to expire and the message is claimed again. Parts already
  accepted upstream are recorded in `message_parts` and never submitted
  again; only the missing ones are.
- A receipt finds its part by (channel, upstream id). One that finds none is
  kept in `early_receipts` and applied when the submit outcome is recorded.
  A receipt for a part already final changes nothing.
- A message becomes final once, when every part is final (or one part is
  refused for good, or it expires): the state changes only from a non-final
  one, in the same transaction as its report and refund.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from hongyan.channels.base import Receipt, SentPart
from hongyan.store.schema import (
    accounts,
    early_receipts,
    ledger,
    message_parts,
    messages,
    reports,
    submissions,
)

QUEUED, SENT, DELIVERED, FAILED = "queued", "sent", "delivered", "failed"
DELIVERED_STATUS = "100"
EXPIRED = "EXPIRED"


class ClaimRequest(NamedTuple):
    now: int
    lease_ms: int
    limit: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message a dispatcher holds under lease, with what it needs to submit."""

    id: int
    account_id: int
    uid: str
    mobile: str
    content: str
    source: str
    parts: int
    attempts: int
    created_at: int
    submitted_seqs: frozenset[int]


@dataclass(frozen=True, slots=True)
class PartOutcome:
    seq: int
    upstream_id: str | None
    error: str = ""
    temporary: bool = False


@dataclass(slots=True)
class MessageOutcome:
    """What came of submitting (some of) one claimed message's parts."""

    message_id: int
    channel: str
    now: int
    parts: list[PartOutcome] = field(default_factory=list)
    retry_at: int = 0  # when a temporary failure may be tried again
    expires_at: int = 0  # past this, a temporary failure is final (EXPIRED)


def claim(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
    return [_claim_one(conn, r) for r in requests]


def _claim_one(conn: Connection, request: ClaimRequest) -> list[Claimed]:
    now = request.now
    rows = conn.execute(
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
        )
        .join(submissions, submissions.c.id == messages.c.submission_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(
            messages.c.state == QUEUED,
            messages.c.due_at <= now,
            or_(messages.c.lease_until.is_(None), messages.c.lease_until < now),
        )
        .order_by(messages.c.due_at, messages.c.id)
        .limit(request.limit)
        .with_for_update(skip_locked=True, of=messages)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    conn.execute(
        update(messages)
        .where(messages.c.id.in_(ids))
        .values(lease_until=now + request.lease_ms, attempts=messages.c.attempts + 1)
    )
    submitted: dict[int, set[int]] = {}
    for message_id, seq in conn.execute(
        select(message_parts.c.message_id, message_parts.c.seq).where(
            message_parts.c.message_id.in_(ids)
        )
    ):
        submitted.setdefault(message_id, set()).add(seq)
    return [
        Claimed(
            row.id,
            row.account_id,
            row.uid,
            row.mobile,
            row.content,
            row.source,
            row.parts,
            row.attempts + 1,
            row.created_at,
            frozenset(submitted.get(row.id, ())),
        )
        for row in rows
    ]


def record_outcomes(conn: Connection, outcomes: list[MessageOutcome]) -> list[None]:
    for outcome in outcomes:
        _record_outcome(conn, outcome)
    return [None] * len(outcomes)


def _record_outcome(conn: Connection, outcome: MessageOutcome) -> None:
    accepted = [p for p in outcome.parts if p.upstream_id is not None]
    if accepted:
        conn.execute(
            insert(message_parts),
            [
                {
                    "message_id": outcome.message_id,
                    "seq": p.seq,
                    "channel": outcome.channel,
                    "upstream_id": p.upstream_id,
                    "state": SENT,
                    "status": "",
                    "submitted_at": outcome.now,
                }
                for p in accepted
            ],
        )
    refused = next((p for p in outcome.parts if p.upstream_id is None and not p.temporary), None)
    if refused is not None:
        _finalise(conn, outcome.message_id, refused.error or "REJECTD", outcome.now)
    elif any(p.upstream_id is None for p in outcome.parts):
        if outcome.now >= outcome.expires_at:
            _finalise(conn, outcome.message_id, EXPIRED, outcome.now)
        else:
            conn.execute(
                update(messages)
                .where(messages.c.id == outcome.message_id, messages.c.state == QUEUED)
                .values(lease_until=None, due_at=outcome.retry_at, channel=outcome.channel)
            )
    else:
        conn.execute(
            update(messages)
            .where(messages.c.id == outcome.message_id, messages.c.state == QUEUED)
            .values(state=SENT, lease_until=None, channel=outcome.channel)
        )
    # Receipts that came before this outcome was recorded.
    for p in accepted:
        early = conn.execute(
            delete(early_receipts)
            .where(
                early_receipts.c.channel == outcome.channel,
                early_receipts.c.upstream_id == p.upstream_id,
            )
            .returning(early_receipts.c.status, early_receipts.c.received_at)
        ).first()
        if early is not None:
            assert p.upstream_id is not None
            _apply_receipt(conn, outcome.channel, Receipt(p.upstream_id, early[0], early[1]))


def record_receipts(conn: Connection, items: list[tuple[str, Receipt]]) -> list[int | None]:
    """Apply receipts; for each, ms since its part was submitted (None: early or duplicate)."""
    return [_apply_receipt(conn, channel, receipt) for channel, receipt in items]


def _apply_receipt(conn: Connection, channel: str, receipt: Receipt) -> int | None:
    part = conn.execute(
        select(
            message_parts.c.message_id,
            message_parts.c.seq,
            message_parts.c.state,
            message_parts.c.submitted_at,
        ).where(
            message_parts.c.channel == channel, message_parts.c.upstream_id == receipt.upstream_id
        )
    ).first()
    if part is None:
        exists = conn.execute(
            select(early_receipts.c.upstream_id).where(
                early_receipts.c.channel == channel,
                early_receipts.c.upstream_id == receipt.upstream_id,
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(early_receipts).values(
                    channel=channel,
                    upstream_id=receipt.upstream_id,
                    status=receipt.status,
                    received_at=receipt.at,
                )
            )
        return None
    if part.state != SENT:
        return None  # a duplicate: the first final receipt won
    delivered = receipt.status == DELIVERED_STATUS
    conn.execute(
        update(message_parts)
        .where(message_parts.c.message_id == part.message_id, message_parts.c.seq == part.seq)
        .values(state=DELIVERED if delivered else FAILED, status=receipt.status, done_at=receipt.at)
    )
    _finalise_if_complete(conn, part.message_id, receipt.at)
    return int(receipt.at - part.submitted_at)


def _finalise_if_complete(conn: Connection, message_id: int, now: int) -> None:
    total = conn.execute(select(messages.c.parts).where(messages.c.id == message_id)).scalar_one()
    parts = conn.execute(
        select(message_parts.c.state, message_parts.c.status)
        .where(message_parts.c.message_id == message_id)
        .order_by(message_parts.c.seq)
    ).all()
    if len(parts) < total or any(p.state == SENT for p in parts):
        return
    failed = next((p.status for p in parts if p.state == FAILED), None)
    _finalise(conn, message_id, failed or DELIVERED_STATUS, now)


def _finalise(conn: Connection, message_id: int, status: str, now: int) -> None:
    """Make the message final with `status`, report it, refund a failure if the account says so."""
    state = DELIVERED if status == DELIVERED_STATUS else FAILED
    changed = conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.state.in_((QUEUED, SENT)))
        .values(state=state, status=status, done_at=now, lease_until=None)
    ).rowcount
    if not changed:
        return  # already final
    row = conn.execute(
        select(
            messages.c.account_id,
            messages.c.mobile,
            messages.c.mobileid,
            messages.c.charged,
            messages.c.submission_id,
            accounts.c.refund_on_failure,
        )
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(messages.c.id == message_id)
    ).one()
    conn.execute(
        insert(reports).values(
            account_id=row.account_id,
            message_id=message_id,
            mobile=row.mobile,
            mobileid=row.mobileid,
            status=status,
            created_at=now,
        )
    )
    if state == FAILED and row.refund_on_failure and row.charged:
        balance = conn.execute(
            update(accounts)
            .where(accounts.c.id == row.account_id)
            .values(balance=accounts.c.balance + row.charged)
            .returning(accounts.c.balance)
        ).scalar_one()
        conn.execute(
            insert(ledger).values(
                account_id=row.account_id,
                delta=row.charged,
                balance_after=balance,
                kind="refund",
                submission_id=row.submission_id,
                note=f"message {message_id}: {status}",
                created_at=now,
            )
        )


def sent_parts(conn: Connection, channel: str) -> list[SentPart]:
    """Parts submitted through `channel` that still wait for their receipt."""
    rows = conn.execute(
        select(message_parts.c.upstream_id, messages.c.mobile, message_parts.c.submitted_at)
        .join(messages, messages.c.id == message_parts.c.message_id)
        .where(and_(message_parts.c.channel == channel, message_parts.c.state == SENT))
    )
    return [SentPart(*row) for row in rows]


def queue_depth(conn: Connection) -> dict[str, int]:
    """Messages waiting to be submitted, and submitted ones waiting for receipts."""
    rows = conn.execute(
        select(messages.c.state, func.count())
        .where(messages.c.state.in_((QUEUED, SENT)))
        .group_by(messages.c.state)
    )
    return {QUEUED: 0, SENT: 0, **{state: int(count) for state, count in rows}}
