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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from hongyan.channels.base import Receipt, SentPart
from hongyan.store import push
from hongyan.store.schema import (
    accounts,
    early_receipts,
    ledger,
    message_parts,
    messages,
    submissions,
)

QUEUED, SENT, DELIVERED, FAILED = "queued", "sent", "delivered", "failed"
T = TypeVar("T")
_IN_CHUNK = 900
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
    channel: str = ""  # where its first parts went, if any did


@dataclass(frozen=True, slots=True)
class PartOutcome:
    seq: int
    upstream_id: str | None
    error: str = ""
    temporary: bool = False
    at: int = 0  # when it was submitted; 0: the outcome's time
    total: int = 0  # segments the channel cut the message into; 0: as billed


@dataclass(slots=True)
class MessageOutcome:
    """What came of submitting (some of) one claimed message's parts."""

    message_id: int
    channel: str
    now: int
    parts: list[PartOutcome] = field(default_factory=list)
    retry_at: int = 0  # when a temporary failure may be tried again
    expires_at: int = 0  # past this, a temporary failure is final (EXPIRED)
    receipt_scope: str = ""  # the channel name receipts for these parts come under


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
            messages.c.channel,
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
            row.channel or "",
        )
        for row in rows
    ]


def record_outcomes(conn: Connection, outcomes: list[MessageOutcome]) -> list[None]:
    """Record what came of a batch of submits, set-wise: a few statements a batch."""
    accepted = [(o, p) for o in outcomes for p in o.parts if p.upstream_id is not None]
    if accepted:
        conn.execute(
            insert(message_parts),
            [
                {
                    "message_id": o.message_id,
                    "seq": p.seq,
                    "channel": o.receipt_scope or o.channel,
                    "upstream_id": p.upstream_id,
                    "state": SENT,
                    "status": "",
                    "submitted_at": p.at or o.now,
                }
                for o, p in accepted
            ],
        )
    # A channel may cut a text into other segments than it was billed by
    # (GSM-7 at 153 septets, one message_payload): the message waits for those.
    segments = {
        (o.message_id, p.total) for o in outcomes for p in o.parts if p.total and p.upstream_id
    }
    if segments:
        conn.execute(
            update(messages)
            .where(messages.c.id == bindparam("b_id"), messages.c.parts != bindparam("b_parts"))
            .values(parts=bindparam("b_parts")),
            [{"b_id": i, "b_parts": n} for i, n in segments],
        )
    sent: dict[str, list[int]] = {}
    retries: list[dict[str, object]] = []
    finals: list[tuple[int, str]] = []
    for o in outcomes:
        refused = next((p for p in o.parts if p.upstream_id is None and not p.temporary), None)
        if refused is not None:
            finals.append((o.message_id, refused.error or "REJECTD"))
        elif any(p.upstream_id is None for p in o.parts):
            if o.now >= o.expires_at:
                finals.append((o.message_id, EXPIRED))
            else:
                retries.append({"b_id": o.message_id, "b_due": o.retry_at, "b_channel": o.channel})
        else:
            sent.setdefault(o.channel, []).append(o.message_id)
    # Row by row on the primary key: with `id IN (...) AND state = ...` SQLite
    # picks the state index and scans every waiting message.
    sent_rows = [{"b_id": i, "b_channel": c} for c, ids in sent.items() for i in ids]
    if sent_rows:
        conn.execute(
            update(messages)
            .where(messages.c.id == bindparam("b_id"), messages.c.state == QUEUED)
            .values(state=SENT, lease_until=None, channel=bindparam("b_channel")),
            sent_rows,
        )
    if retries:
        conn.execute(
            update(messages)
            .where(messages.c.id == bindparam("b_id"), messages.c.state == QUEUED)
            .values(lease_until=None, due_at=bindparam("b_due"), channel=bindparam("b_channel")),
            retries,
        )
    if outcomes:
        _finalise_many(conn, finals, max(o.now for o in outcomes))
    # Receipts that came before these outcomes were recorded.
    early = _take_early_receipts(
        conn, [(o.receipt_scope or o.channel, p.upstream_id) for o, p in accepted]
    )
    if early:
        record_receipts(conn, early)
    return [None] * len(outcomes)


def _take_early_receipts(
    conn: Connection, keys: list[tuple[str, str | None]]
) -> list[tuple[str, Receipt]]:
    by_channel: dict[str, list[str]] = {}
    for channel, upstream_id in keys:
        if upstream_id is not None:
            by_channel.setdefault(channel, []).append(upstream_id)
    found: list[tuple[str, Receipt]] = []
    for channel, ids in by_channel.items():
        for chunk in _chunks(ids):
            where = and_(
                early_receipts.c.channel == channel, early_receipts.c.upstream_id.in_(chunk)
            )
            rows = conn.execute(
                select(
                    early_receipts.c.upstream_id,
                    early_receipts.c.status,
                    early_receipts.c.received_at,
                ).where(where)
            ).all()
            if rows:
                conn.execute(delete(early_receipts).where(where))
                found += [(channel, Receipt(r.upstream_id, r.status, r.received_at)) for r in rows]
    return found


class LeaseRenewal(NamedTuple):
    ids: tuple[int, ...]
    lease_until: int


def renew_leases(conn: Connection, renewals: list[LeaseRenewal]) -> list[None]:
    """Extend the lease of messages a dispatcher still holds (claimed, their
    outcome not yet recorded: recording clears the lease, and a cleared one
    stays cleared). Group-commit handler."""
    for renewal in renewals:
        for chunk in _chunks(sorted(renewal.ids)):
            conn.execute(
                update(messages)
                .where(messages.c.id.in_(chunk), messages.c.lease_until.is_not(None))
                .values(lease_until=renewal.lease_until)
            )
    return [None] * len(renewals)


def prune_early_receipts(conn: Connection, cutoffs: list[int]) -> list[int]:
    """Delete receipts kept since before the cutoff (ms) whose part never turned
    up (its submit outcome was lost, so the part went again under another id);
    how many went. Group-commit handler."""
    return [
        conn.execute(delete(early_receipts).where(early_receipts.c.received_at < cutoff)).rowcount
        for cutoff in cutoffs
    ]


def record_receipts(conn: Connection, items: list[tuple[str, Receipt]]) -> list[int | None]:
    """Apply receipts, set-wise; for each, ms since its part's submit (None: early or duplicate)."""
    by_channel: dict[str, set[str]] = {}
    for channel, receipt in items:
        by_channel.setdefault(channel, set()).add(receipt.upstream_id)
    parts: dict[tuple[str, str], Any] = {}
    for channel, ids in by_channel.items():
        for chunk in _chunks(sorted(ids)):
            for row in conn.execute(
                select(
                    message_parts.c.upstream_id,
                    message_parts.c.message_id,
                    message_parts.c.seq,
                    message_parts.c.state,
                    message_parts.c.submitted_at,
                ).where(message_parts.c.channel == channel, message_parts.c.upstream_id.in_(chunk))
            ):
                parts[(channel, row.upstream_id)] = row
    results: list[int | None] = []
    done: set[tuple[str, str]] = set()
    early: dict[tuple[str, str], Receipt] = {}
    updates: list[dict[str, object]] = []
    touched: set[int] = set()
    for channel, receipt in items:
        key = (channel, receipt.upstream_id)
        part = parts.get(key)
        if part is None:
            early.setdefault(key, receipt)
            results.append(None)
        elif part.state != SENT or key in done:
            results.append(None)  # a duplicate: the first final receipt won
        else:
            done.add(key)
            delivered = receipt.status == DELIVERED_STATUS
            updates.append(
                {
                    "b_message": part.message_id,
                    "b_seq": part.seq,
                    "b_state": DELIVERED if delivered else FAILED,
                    "b_status": receipt.status,
                    "b_done": receipt.at,
                }
            )
            touched.add(part.message_id)
            results.append(int(receipt.at - part.submitted_at))
    if updates:
        conn.execute(
            update(message_parts)
            .where(
                message_parts.c.message_id == bindparam("b_message"),
                message_parts.c.seq == bindparam("b_seq"),
            )
            .values(
                state=bindparam("b_state"),
                status=bindparam("b_status"),
                done_at=bindparam("b_done"),
            ),
            updates,
        )
    if early:
        _keep_early(conn, early)
    if touched:
        _finalise_complete(conn, sorted(touched), max(r.at for _, r in items))
    return results


def _keep_early(conn: Connection, early: dict[tuple[str, str], Receipt]) -> None:
    known: set[tuple[str, str]] = set()
    by_channel: dict[str, list[str]] = {}
    for channel, upstream_id in early:
        by_channel.setdefault(channel, []).append(upstream_id)
    for channel, ids in by_channel.items():
        for chunk in _chunks(ids):
            known.update(
                (channel, upstream_id)
                for (upstream_id,) in conn.execute(
                    select(early_receipts.c.upstream_id).where(
                        early_receipts.c.channel == channel,
                        early_receipts.c.upstream_id.in_(chunk),
                    )
                )
            )
    rows = [
        {"channel": c, "upstream_id": u, "status": r.status, "received_at": r.at}
        for (c, u), r in early.items()
        if (c, u) not in known
    ]
    if rows:
        conn.execute(insert(early_receipts), rows)


def _finalise_complete(conn: Connection, message_ids: list[int], now: int) -> None:
    """Finalise those of these messages whose every part is final."""
    totals: dict[int, int] = {}
    states: dict[int, list[Any]] = {}
    for chunk in _chunks(message_ids):
        for message_id, total in conn.execute(
            select(messages.c.id, messages.c.parts).where(messages.c.id.in_(chunk))
        ):
            totals[message_id] = total
        for row in conn.execute(
            select(message_parts.c.message_id, message_parts.c.state, message_parts.c.status)
            .where(message_parts.c.message_id.in_(chunk))
            .order_by(message_parts.c.message_id, message_parts.c.seq)
        ):
            states.setdefault(row.message_id, []).append(row)
    finals = []
    for message_id in message_ids:
        parts = states.get(message_id, [])
        if len(parts) < totals.get(message_id, 0) or any(p.state == SENT for p in parts):
            continue
        failed = next((p.status for p in parts if p.state == FAILED), None)
        finals.append((message_id, failed or DELIVERED_STATUS))
    _finalise_many(conn, finals, now)


def _finalise_many(conn: Connection, finals: list[tuple[int, str]], now: int) -> None:
    """Make messages final, each once: state, report and refund in this transaction.

    Only a message not yet final is changed; its row is locked first (FOR
    UPDATE on PostgreSQL), so two processes cannot both finalise it.
    """
    wanted = dict(reversed(finals))  # the first status given for a message wins
    if not wanted:
        return
    rows: list[Any] = []
    for chunk in _chunks(sorted(wanted)):
        rows += conn.execute(
            select(
                messages.c.id,
                messages.c.account_id,
                messages.c.mobile,
                messages.c.mobileid,
                messages.c.charged,
                messages.c.submission_id,
                accounts.c.refund_on_failure,
            )
            .add_columns(messages.c.state)
            .join(accounts, accounts.c.id == messages.c.account_id)
            # By primary key only; the state is checked below (a state filter here
            # makes SQLite scan the state index: every waiting message).
            .where(messages.c.id.in_(chunk))
            .with_for_update(of=messages)
        ).all()
    rows = [row for row in rows if row.state in (QUEUED, SENT)]
    if not rows:
        return
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("b_id"))
        .values(
            state=bindparam("b_state"),
            status=bindparam("b_status"),
            done_at=bindparam("b_done"),
            lease_until=None,
        ),
        [
            {
                "b_id": row.id,
                "b_state": DELIVERED if wanted[row.id] == DELIVERED_STATUS else FAILED,
                "b_status": wanted[row.id],
                "b_done": now,
            }
            for row in rows
        ],
    )
    push.insert_reports(
        conn,
        [
            {
                "account_id": row.account_id,
                "message_id": row.id,
                "mobile": row.mobile,
                "mobileid": row.mobileid,
                "status": wanted[row.id],
                "created_at": now,
            }
            for row in rows
        ],
        now,
    )
    for row in rows:
        if wanted[row.id] != DELIVERED_STATUS and row.refund_on_failure and row.charged:
            _refund(conn, row, wanted[row.id], now)


def _refund(conn: Connection, row: Any, status: str, now: int) -> None:
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
            note=f"message {row.id}: {status}",
            created_at=now,
        )
    )


def _chunks(values: Sequence[T]) -> list[Sequence[T]]:
    """IN lists of a size every database takes."""
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


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
