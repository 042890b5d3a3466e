"""Cancelling a scheduled send on SQLite and PostgreSQL: what is not yet
sent ends as cancelled with its report, refunded in one ledger entry; what a
dispatcher took stays its own; another account's batch is not found."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.models import Account, MessageOutcome, PartOutcome
from hongyan.core.service import CustomerService, SendForm
from hongyan.errors import NotFound
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.engine import now_ms
from hongyan.store.schema import accounts, ledger, messages, reports
from tests.store.test_message_stats import counted_from_messages, rollup
from tests.store.test_store import sender

HOUR = 3_600_000
NUMBERS = "13900000001,13900000002,13900000003"


def local(ms: int, settings: Settings) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(settings.timezone)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


async def scheduled(
    settings: Settings, service: CustomerService, account: Account, text: str = "长" * 100
) -> tuple[int, int]:
    """A send of 3 numbers due in an hour; its id and due time."""
    due = (now_ms() // 1000 + 3600) * 1000
    accepted = await service.send(
        account, SendForm(NUMBERS, text, time=local(due, settings)), post=True
    )
    return accepted.submission_id, due


async def balance_and_ledger(
    db: Database, account_id: int
) -> tuple[int, int, list[tuple[str, int, int, str]]]:
    async with db.read() as conn:
        balance = (
            await conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id))
        ).scalar_one()
        total = (
            await conn.execute(
                select(func.coalesce(func.sum(ledger.c.delta), 0)).where(
                    ledger.c.account_id == account_id
                )
            )
        ).scalar_one()
        entries = [
            (row.kind, row.delta, row.balance_after, row.note)
            for row in await conn.execute(
                select(ledger).where(ledger.c.account_id == account_id).order_by(ledger.c.id)
            )
        ]
    return int(balance), int(total), entries


async def message_states(db: Database, submission_id: int) -> list[tuple[str, str, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(messages.c.state, messages.c.status, func.count(reports.c.id))
            .outerjoin(reports, reports.c.message_id == messages.c.id)
            .where(messages.c.submission_id == submission_id)
            .group_by(messages.c.id, messages.c.state, messages.c.status)
            .order_by(messages.c.id)
        )
        return [(r[0], r[1], int(r[2])) for r in rows]


async def test_cancel_refunds_every_waiting_message_in_one_entry_with_reports(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator, balance=100)
    batch, due = await scheduled(settings, service, account)  # 2 parts x 3 numbers
    (waiting,) = await service.waiting_batches(account)
    assert (waiting.id, waiting.due_at, waiting.waiting, waiting.cost) == (batch, due, 3, 6)

    done = await service.cancel(account, batch)

    assert (done.messages, done.refunded, done.balance_after) == (3, 6, 100)
    assert await message_states(db, batch) == [("failed", "CANCELED", 1)] * 3
    balance, total, entries = await balance_and_ledger(db, account.id)
    assert balance == total == 100
    assert entries[-2:] == [("charge", -6, 94, ""), ("refund", 6, 100, "cancelled")]
    assert await service.waiting_batches(account) == []
    # The overview's hourly counts see the cancelled messages as final ones.
    assert await rollup(db) == await counted_from_messages(db)
    again = await service.cancel(account, batch)  # nothing left: no second refund
    assert (again.messages, again.refunded) == (0, 0)
    assert len((await balance_and_ledger(db, account.id))[2]) == len(entries)


async def test_messages_a_dispatcher_took_are_not_cancelled(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator, balance=100)
    batch, due = await scheduled(settings, service, account, text="short")
    # At its time a dispatcher claims two: one goes out, one is still leased.
    first, second = await db.write(delivery.claim, ClaimRequest(due, 30_000, 2))
    await db.write(
        delivery.record_outcomes,
        MessageOutcome(
            first.id,
            "sim",
            due,
            [PartOutcome(1, "up-1")],
            retry_at=due,
            expires_at=due + HOUR,
            attempt=first.attempts,
        ),
    )

    done = await service.cancel(account, batch)

    assert (done.messages, done.refunded) == (1, 1)
    states = await message_states(db, batch)
    assert states == [("sent", "0", 0), ("queued", "0", 0), ("failed", "CANCELED", 1)]
    balance, total, _ = await balance_and_ledger(db, account.id)
    assert balance == total == 98
    # Once its lease is over the leased one is claimed again; the cancelled one never.
    later = await db.write(delivery.claim, ClaimRequest(due + 60_000, 30_000, 10))
    assert [c.id for c in later] == [second.id]


async def test_another_accounts_batch_is_not_found(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, owner, _ = await sender(settings, db, operator, balance=100)
    _, stranger, _ = await sender(settings, db, operator, balance=100)
    batch, _ = await scheduled(settings, service, owner)

    with pytest.raises(NotFound):
        await service.cancel(stranger, batch)
    with pytest.raises(NotFound):
        await service.cancel(owner, batch + 1000)

    assert await message_states(db, batch) == [("queued", "0", 0)] * 3
    assert await service.waiting_batches(stranger) == []
    assert (await balance_and_ledger(db, owner.id))[0] == 94
