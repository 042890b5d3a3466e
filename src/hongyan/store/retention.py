"""Retention: history older than `retention_days` deleted, in small batches.

A message goes with its parts, its report (and that report's push entry),
once it was made before the cutoff, is final, and its report was handed out
(by /st/ or pushed) or has itself waited since before the cutoff: a report
nobody took in all that time is given up. A submission goes once none of its
messages is left; the ledger keeps its charge and refund rows (the balance
still adds up) without the link to it. Replies go once received before the
cutoff. Each batch is a transaction of its own, short enough that the
platform's other writes go on around it; on PostgreSQL the batch's rows are
taken with SKIP LOCKED, so two workers' housekeeping never fight over them.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, Integer, bindparam, delete, select, update

from hongyan.core.states import MessageState, OutboxKind
from hongyan.store.schema import (
    ledger,
    message_parts,
    messages,
    push_outbox,
    replies,
    reports,
    submissions,
)

FINAL = (MessageState.DELIVERED, MessageState.FAILED)


class Prune(NamedTuple):
    cutoff: int  # wall clock ms: history made before it may go
    batch: int


_OLD = (
    select(messages.c.id, messages.c.submission_id)
    .where(messages.c.created_at < bindparam("b_cutoff"), messages.c.state.in_(FINAL))
    .order_by(messages.c.created_at, messages.c.id)
    .limit(bindparam("b_batch", type_=Integer))
    .with_for_update(skip_locked=True, of=messages)
)


def prune_messages(conn: Connection, prunes: list[Prune]) -> list[int]:
    """One batch of old messages each (group-commit handler); how many went."""
    return [_prune_messages(conn, p) for p in prunes]


def _prune_messages(conn: Connection, p: Prune) -> int:
    rows = conn.execute(_OLD, {"b_cutoff": p.cutoff, "b_batch": p.batch}).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    waiting = {
        message_id
        for (message_id,) in conn.execute(
            select(reports.c.message_id).where(
                reports.c.message_id.in_(ids),
                reports.c.fetched_at.is_(None),
                reports.c.pushed_at.is_(None),
                reports.c.created_at >= p.cutoff,
            )
        )
    }
    gone = [row for row in rows if row.id not in waiting]
    if not gone:
        return 0
    ids = [row.id for row in gone]
    found = conn.execute(select(reports.c.id).where(reports.c.message_id.in_(ids)))
    report_ids = [r for (r,) in found]
    if report_ids:
        conn.execute(
            delete(push_outbox).where(
                push_outbox.c.kind == OutboxKind.REPORT, push_outbox.c.item_id.in_(report_ids)
            )
        )
        conn.execute(delete(reports).where(reports.c.id.in_(report_ids)))
    conn.execute(delete(message_parts).where(message_parts.c.message_id.in_(ids)))
    conn.execute(delete(messages).where(messages.c.id.in_(ids)))
    batches = {row.submission_id for row in gone}
    left = {
        s
        for (s,) in conn.execute(
            select(messages.c.submission_id).where(messages.c.submission_id.in_(batches)).distinct()
        )
    }
    empty = sorted(batches - left)
    if empty:
        drop_submissions(conn, empty)
    return len(ids)


def drop_submissions(conn: Connection, ids: list[int]) -> None:
    """Submissions left without messages deleted; the ledger keeps their
    charge and refund rows, unlinked, so the balance still adds up."""
    conn.execute(update(ledger).where(ledger.c.submission_id.in_(ids)).values(submission_id=None))
    conn.execute(delete(submissions).where(submissions.c.id.in_(ids)))


def prune_replies(conn: Connection, prunes: list[Prune]) -> list[int]:
    """One batch of replies received before the cutoff each; how many went."""
    done = []
    for p in prunes:
        ids = [
            r
            for (r,) in conn.execute(
                select(replies.c.id)
                .where(replies.c.received_at < p.cutoff)
                .order_by(replies.c.id)
                .limit(p.batch)
                .with_for_update(skip_locked=True)
            )
        ]
        if ids:
            conn.execute(
                delete(push_outbox).where(
                    push_outbox.c.kind == OutboxKind.REPLY, push_outbox.c.item_id.in_(ids)
                )
            )
            conn.execute(delete(replies).where(replies.c.id.in_(ids)))
        done.append(len(ids))
    return done
