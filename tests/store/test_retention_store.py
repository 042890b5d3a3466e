"""Retention by row deletes (store/retention.py), run on both databases:
SQLite's retention, and the rule PostgreSQL's partition drops follow
(test_partitions_store.py). Old history goes, in batches, but never a
message before it is final and its report handed out or given up; the
ledger still explains the balance afterwards."""

from __future__ import annotations

from sqlalchemy import Update, func, insert, select, update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.delivery import DAY_MS, Housekeeper
from hongyan.core.models import PartOutcome
from hongyan.core.service import SendForm
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.schema import (
    accounts,
    ledger,
    message_parts,
    messages,
    replies,
    reports,
    submissions,
)
from tests.store.test_delivery_store import claim, outcome, receipt
from tests.store.test_store import sender

NUMBERS = ("13900000001", "13900000002", "13900000003")


async def scalar(db: Database, query: object) -> int:
    async with db.read() as conn:
        return int((await conn.execute(query)).scalar_one())  # type: ignore[call-overload]


def handed_out(message_id: int, at: int) -> Update:
    return update(reports).where(reports.c.message_id == message_id).values(fetched_at=at)


async def test_old_final_history_goes_and_the_ledger_still_adds_up(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=100)
    await service.send(account, SendForm(",".join(NUMBERS), "x"), post=True)
    claimed = {m.mobile: m.id for m in await claim(db)}
    for i, mobile in enumerate(NUMBERS[:2]):  # the third stays queued
        await outcome(db, claimed[mobile], PartOutcome(1, f"up-{i}"))
        await receipt(db, f"up-{i}", "100")
    now = now_ms()
    long_ago = now - 200 * DAY_MS
    async with db.transaction() as conn:
        for table in (messages, submissions):
            await conn.execute(update(table).values(created_at=long_ago))
        # The first one's report was handed out; the second's waits, made lately.
        await conn.execute(
            update(reports)
            .where(reports.c.message_id == claimed[NUMBERS[0]])
            .values(fetched_at=now)
        )
    keeper = Housekeeper(settings.model_copy(update={"retention_days": 180}), db)

    assert await keeper.prune_rows(now) == (1, 0)
    left = select(messages.c.mobile).order_by(messages.c.mobile)
    async with db.read() as conn:
        assert [m for (m,) in await conn.execute(left)] == list(NUMBERS[1:])
    assert await scalar(db, select(func.count()).select_from(message_parts)) == 1
    assert await scalar(db, select(func.count()).select_from(submissions)) == 1

    # The waiting report has waited since before the cutoff too: given up. The
    # queued message ends (its report handed out); then the batch goes whole.
    await outcome(db, claimed[NUMBERS[2]], PartOutcome(1, "up-2"))
    await receipt(db, "up-2", "100")
    async with db.transaction() as conn:
        await conn.execute(update(messages).values(created_at=long_ago))
        await conn.execute(
            update(reports)
            .where(reports.c.message_id == claimed[NUMBERS[1]])
            .values(created_at=long_ago)
        )
        await conn.execute(
            update(reports)
            .where(reports.c.message_id == claimed[NUMBERS[2]])
            .values(fetched_at=now)
        )
    assert await keeper.prune_rows(now) == (2, 0)
    for table in (messages, message_parts, reports, submissions):
        assert await scalar(db, select(func.count()).select_from(table)) == 0
    # The charge stays in the ledger, without its submission: the balance adds up.
    charged = select(func.count()).select_from(ledger).where(ledger.c.kind == "charge")
    assert await scalar(db, charged) == 1
    balance = select(accounts.c.balance).where(accounts.c.uid == customer.uid)
    assert await scalar(db, balance) == await scalar(db, select(func.sum(ledger.c.delta)))


async def test_old_replies_go_and_nothing_goes_before_its_time_or_without_retention(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator)
    await service.send(account, SendForm(NUMBERS[0], "x"), post=False)
    (message,) = await claim(db)
    await outcome(db, message.id, PartOutcome(1, "up-0"))
    await receipt(db, "up-0", "100")
    now = now_ms()
    async with db.transaction() as conn:  # a reply from a handset, long ago
        reply = {"mobile": NUMBERS[1], "content": "ok", "gateway": "1069", "channel": "sim"}
        await conn.execute(insert(replies).values(**reply, received_at=now - 200 * DAY_MS))
    assert await Housekeeper(settings, db).prune_rows(now) == (0, 1)  # the message is new
    forever = Housekeeper(settings.model_copy(update={"retention_days": 0}), db)
    assert await forever.prune_rows(now + 1000 * DAY_MS) == (0, 0)
    assert await scalar(db, select(func.count()).select_from(messages)) == 1
