"""Everything stored about one message, for its whole life (core/message_life.py
orders it into events): the customer's detail (`store.history.message_detail`:
the message, its parts, reports and refunds) with what only an operator
sees: the account, the request's charge entry, the lease, and each report's
push outbox row in any state (queued, retrying, given up).

Each is found by an index: the message by its key, parts by theirs, reports
by message_id, ledger entries by submission_id, outbox rows by
(account_id, state) and item.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from hongyan.core.records import MessageDetail
from hongyan.core.states import LedgerKind, OutboxKind
from hongyan.store.history import message_detail
from hongyan.store.schema import accounts, ledger, messages, push_outbox
from hongyan.store.sql import chunks


@dataclass(frozen=True, slots=True)
class ChargeEntry:
    id: int
    delta: int  # the whole request's, negative
    balance_after: int
    created_at: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    item_id: int  # the report's id
    state: str  # an OutboxState
    attempts: int
    created_at: int
    next_at: int
    last_error: str
    last_attempt_at: int | None


@dataclass(frozen=True, slots=True)
class LifeFacts:
    account_id: int
    uid: str
    state: str
    lease_until: int | None
    detail: MessageDetail
    charge: ChargeEntry | None
    outbox: tuple[OutboxRow, ...]


def facts(conn: Connection, message_id: int) -> LifeFacts | None:
    head = conn.execute(
        select(messages.c.account_id, accounts.c.uid, messages.c.state, messages.c.lease_until)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(messages.c.id == message_id)
    ).first()
    if head is None:
        return None
    detail = message_detail(conn, head.account_id, message_id)
    if detail is None:  # gone between the two reads
        return None
    charge = conn.execute(
        select(ledger.c.id, ledger.c.delta, ledger.c.balance_after, ledger.c.created_at)
        .where(
            ledger.c.submission_id == detail.message.submission_id,
            ledger.c.account_id == head.account_id,
            ledger.c.kind == LedgerKind.CHARGE,
        )
        .order_by(ledger.c.id)
    ).first()
    outbox: list[OutboxRow] = []
    for chunk in chunks([r.id for r in detail.reports]):
        outbox += [
            OutboxRow(*row)
            for row in conn.execute(
                select(
                    push_outbox.c.item_id,
                    push_outbox.c.state,
                    push_outbox.c.attempts,
                    push_outbox.c.created_at,
                    push_outbox.c.next_at,
                    push_outbox.c.last_error,
                    push_outbox.c.last_attempt_at,
                )
                .where(
                    push_outbox.c.account_id == head.account_id,
                    push_outbox.c.kind == OutboxKind.REPORT,
                    push_outbox.c.item_id.in_(chunk),
                )
                .order_by(push_outbox.c.id)
            )
        ]
    return LifeFacts(
        head.account_id,
        head.uid,
        head.state,
        head.lease_until,
        detail,
        None if charge is None else ChargeEntry(*charge),
        tuple(outbox),
    )
