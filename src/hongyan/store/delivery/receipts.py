"""Delivery receipts: each finds its part by (channel, upstream id).

A receipt that finds no part is kept in `early_receipts` and applied when its
part's submit outcome is recorded (`take_early`), or pruned once old. A
receipt for a part already final changes nothing: the first final one wins.
Group-commit handlers (see `store.writer`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from hongyan.core import channel_figures, finals
from hongyan.core.models import Receipt
from hongyan.core.states import PartState, Status
from hongyan.store.delivery.finals import finalise_complete
from hongyan.store.schema import early_receipts, message_parts
from hongyan.store.sql import chunks

# Statements built once (see store/delivery/claims.py).
_PARTS_BY_UPSTREAM = select(
    message_parts.c.upstream_id,
    message_parts.c.message_id,
    message_parts.c.seq,
    message_parts.c.state,
    message_parts.c.submitted_at,
).where(
    message_parts.c.channel == bindparam("b_channel"),
    message_parts.c.upstream_id.in_(bindparam("b_ids", expanding=True)),
)
_PART_FINAL = (
    update(message_parts)
    .where(
        message_parts.c.message_id == bindparam("b_message"),
        message_parts.c.seq == bindparam("b_seq"),
    )
    .values(
        state=bindparam("b_state"),
        status=bindparam("b_status"),
        done_at=bindparam("b_done"),
    )
)


def record_receipts(conn: Connection, items: list[tuple[str, Receipt]]) -> list[int | None]:
    """Apply receipts, set-wise; for each, ms since its part's submit (None: early or duplicate)."""
    by_channel: dict[str, set[str]] = {}
    for channel, receipt in items:
        by_channel.setdefault(channel, set()).add(receipt.upstream_id)
    parts: dict[tuple[str, str], Any] = {}
    for channel, ids in by_channel.items():
        for chunk in chunks(sorted(ids)):
            for row in conn.execute(_PARTS_BY_UPSTREAM, {"b_channel": channel, "b_ids": chunk}):
                parts[(channel, row.upstream_id)] = row
    results: list[int | None] = []
    # The channel page's delivery rate and latency (core/channel_figures.py).
    figures = channel_figures.figures_of(conn.engine.url.database)
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
        elif part.state != PartState.SENT or key in done:
            results.append(None)  # a duplicate: the first final receipt won
        else:
            done.add(key)
            updates.append(
                {
                    "b_message": part.message_id,
                    "b_seq": part.seq,
                    "b_state": finals.part_state(receipt.status),
                    "b_status": receipt.status,
                    "b_done": receipt.at,
                }
            )
            touched.add(part.message_id)
            results.append(int(receipt.at - part.submitted_at))
            figures.receipt(
                channel,
                delivered=receipt.status == Status.DELIVERED,
                latency_ms=int(receipt.at - part.submitted_at),
            )
    if updates:
        conn.execute(_PART_FINAL, updates)
    if early:
        _keep_early(conn, early)
    if touched:
        finalise_complete(conn, sorted(touched), max(r.at for _, r in items))
    return results


def _keep_early(conn: Connection, early: dict[tuple[str, str], Receipt]) -> None:
    known: set[tuple[str, str]] = set()
    by_channel: dict[str, list[str]] = {}
    for channel, upstream_id in early:
        by_channel.setdefault(channel, []).append(upstream_id)
    for channel, ids in by_channel.items():
        for chunk in chunks(ids):
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


def take_early(conn: Connection, keys: list[tuple[str, str | None]]) -> list[tuple[str, Receipt]]:
    """The kept receipts of these (channel, upstream id) parts, removed from keeping."""
    by_channel: dict[str, list[str]] = {}
    for channel, upstream_id in keys:
        if upstream_id is not None:
            by_channel.setdefault(channel, []).append(upstream_id)
    found: list[tuple[str, Receipt]] = []
    for channel, ids in by_channel.items():
        for chunk in chunks(ids):
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


def prune_early_receipts(conn: Connection, cutoffs: list[int]) -> list[int]:
    """Delete receipts kept since before the cutoff (ms) whose part never turned
    up (its submit outcome was lost, so the part went again under another id);
    how many went."""
    return [
        conn.execute(delete(early_receipts).where(early_receipts.c.received_at < cutoff)).rowcount
        for cutoff in cutoffs
    ]
