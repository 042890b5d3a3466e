"""Recording what came of submits, set-wise: a few statements a batch.

Parts accepted upstream go to `message_parts` (never submitted again); each
message then ends, waits for a retry, or waits for its receipts, as
`core.finals.after_submit` says. Receipts that came before these outcomes
were recorded are applied now. Group-commit handler (see `store.writer`).

An outcome is recorded only if its claim is still the message's last one: a
dispatcher that stalled past its lease (frozen, cut off from the database)
may come back after another claimed the message. Its late outcome is logged,
as evidence of what went on the wire, and changes nothing: no part, state,
refund or report. What it submitted may then go twice (the issue of any
submit in flight when its sender stops), never be charged twice.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, bindparam, insert, select, update

from hongyan.core import finals
from hongyan.core.models import MessageOutcome
from hongyan.core.states import MessageState, PartState
from hongyan.store.delivery.finals import finalise
from hongyan.store.delivery.receipts import record_receipts, take_early
from hongyan.store.schema import message_parts, messages
from hongyan.store.sql import chunks

log = logging.getLogger(__name__)

# Statements built once (see store/delivery/claims.py).
_NEW_PARTS = insert(message_parts)
_SEGMENTS = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.parts != bindparam("b_parts"))
    .values(parts=bindparam("b_parts"))
)
# Row by row on the primary key: with `id IN (...) AND state = ...` SQLite
# picks the state index and scans every waiting message.
_AWAIT_RECEIPTS = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.state == MessageState.QUEUED)
    .values(state=MessageState.SENT, lease_until=None, channel=bindparam("b_channel"))
)
_RETRY = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.state == MessageState.QUEUED)
    .values(lease_until=None, due_at=bindparam("b_due"), channel=bindparam("b_channel"))
)


_CLAIMS = select(messages.c.id, messages.c.attempts).where(
    messages.c.id.in_(bindparam("b_ids", expanding=True))
)


def record_outcomes(conn: Connection, outcomes: list[MessageOutcome]) -> list[None]:
    results: list[None] = [None] * len(outcomes)
    outcomes = _still_claimed(conn, outcomes)
    accepted = [(o, p) for o in outcomes for p in o.parts if p.upstream_id is not None]
    if accepted:
        conn.execute(
            _NEW_PARTS,
            [
                {
                    "message_id": o.message_id,
                    "seq": p.seq,
                    "channel": o.receipt_scope or o.channel,
                    "upstream_id": p.upstream_id,
                    "state": PartState.SENT,
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
        conn.execute(_SEGMENTS, [{"b_id": i, "b_parts": n} for i, n in segments])
    sent: list[dict[str, object]] = []
    retries: list[dict[str, object]] = []
    ends: list[tuple[int, str]] = []
    for o in outcomes:
        match finals.after_submit(o):
            case finals.Ends(status):
                ends.append((o.message_id, status))
            case finals.Retry(due_at):
                retries.append({"b_id": o.message_id, "b_due": due_at, "b_channel": o.channel})
            case finals.AwaitReceipts():
                sent.append({"b_id": o.message_id, "b_channel": o.channel})
    if sent:
        conn.execute(_AWAIT_RECEIPTS, sent)
    if retries:
        conn.execute(_RETRY, retries)
    if outcomes:
        finalise(conn, ends, max(o.now for o in outcomes))
    # Receipts that came before these outcomes were recorded.
    early = take_early(conn, [(o.receipt_scope or o.channel, p.upstream_id) for o, p in accepted])
    if early:
        record_receipts(conn, early)
    return results


def _still_claimed(conn: Connection, outcomes: list[MessageOutcome]) -> list[MessageOutcome]:
    """The outcomes whose claim no later claim replaced; the others logged."""
    claims: dict[int, int] = {}
    for chunk in chunks(sorted({o.message_id for o in outcomes})):
        claims.update((i, n) for i, n in conn.execute(_CLAIMS, {"b_ids": chunk}))
    kept: list[MessageOutcome] = []
    for o in outcomes:
        if claims.get(o.message_id) == o.attempt:
            kept.append(o)
            continue
        log.warning(
            "late outcome of a message claimed again since: not recorded",
            extra={
                "message_id": o.message_id,
                "claim": o.attempt,
                "claims_now": claims.get(o.message_id),
                "channel": o.channel,
                "accepted_upstream": [p.upstream_id for p in o.parts if p.upstream_id],
            },
        )
    return kept
