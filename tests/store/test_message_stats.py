"""The overview's rollup on SQLite and PostgreSQL: it always says what a
COUNT over the messages table says, through acceptance, refused numbers,
deliveries, failures, refunds and several accounts at once."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.models import PartOutcome
from hongyan.core.overview import ChartRange, Point
from hongyan.core.service import SendForm
from hongyan.store import message_stats
from hongyan.store.database import Database
from hongyan.store.schema import message_stats as stats_table
from hongyan.store.schema import messages
from tests.clock import ControlledClock
from tests.store.test_delivery_store import claim, outcome, receipt
from tests.store.test_store import sender

HOUR = 3_600_000


async def rollup(db: Database) -> dict[tuple[int, int, str], tuple[int, int]]:
    async with db.read() as conn:
        rows = await conn.execute(select(stats_table))
        return {(r.account_id, r.hour, r.status): (r.messages, r.parts) for r in rows}


async def counted_from_messages(db: Database) -> dict[tuple[int, int, str], tuple[int, int]]:
    """What the rollup must hold, counted the slow way."""
    found: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])
    async with db.read() as conn:
        for m in await conn.execute(select(messages)):
            hour = m.created_at - m.created_at % HOUR
            if m.charged:
                found[(m.account_id, hour, "")][0] += 1
                found[(m.account_id, hour, "")][1] += m.charged
            if m.state in ("delivered", "failed"):
                found[(m.account_id, hour, m.status)][0] += 1
                found[(m.account_id, hour, m.status)][1] += m.parts
    return {key: (n, p) for key, (n, p) in found.items()}


async def test_the_rollup_counts_what_the_messages_table_holds(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, account, customer = await sender(
        settings, db, operator, clock, balance=100, per_number="1/h"
    )
    await operator.set_refund(customer.uid, True)
    other_service, other, _ = await sender(settings, db, operator, clock, balance=100)
    # Five numbers: one invalid (112), one given twice (the second is 110).
    await service.send(
        account,
        SendForm("13900000001,13900000002,13900000003,12345,13900000001", "长" * 100),
        post=False,
    )
    clock.advance(HOUR)  # the next ones in the next hour
    await other_service.send(other, SendForm("13900000009", "hi"), post=False)
    assert await rollup(db) == await counted_from_messages(db)

    claimed = sorted(await claim(db, clock()), key=lambda c: c.mobile)
    assert [c.mobile for c in claimed] == [f"1390000000{n}" for n in (1, 2, 3, 9)]
    first, second, third, fourth = (c.id for c in claimed)
    await outcome(db, first, PartOutcome(1, "a1"), PartOutcome(2, "a2"))
    await outcome(db, second, PartOutcome(1, "b1"), PartOutcome(2, "b2"))
    await outcome(db, third, PartOutcome(1, None, error="ESME_RINVDSTADR"))  # refused for good
    await outcome(db, fourth, PartOutcome(1, "d1"))
    for upstream, status in (("a1", "100"), ("a2", "100"), ("b1", "100"), ("b2", "MK:0001")):
        await receipt(db, upstream, status)
    await receipt(db, "d1", "100")
    await receipt(db, "d1", "UNDELIV")  # a duplicate counts nothing

    held = await rollup(db)
    assert held == await counted_from_messages(db)
    mine = {status: n for (a, _, status), (n, _) in held.items() if a == account.id}
    assert mine == {"": 3, "100": 1, "MK:0001": 1, "ESME_RINVDSTADR": 1, "112": 1, "110": 1}
    assert {s: n for (a, _, s), (n, _) in held.items() if a == other.id} == {"": 1, "100": 1}


async def test_the_overview_reads_periods_rates_and_reasons_from_it(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, account, _ = await sender(settings, db, operator, clock, balance=100)
    await service.send(account, SendForm("13900000001,13900000002,1", "x" * 80), post=False)
    one, two = sorted(await claim(db, clock()), key=lambda c: c.mobile)
    await outcome(db, one.id, PartOutcome(1, "u1"), PartOutcome(2, "u2"))
    await outcome(db, two.id, PartOutcome(1, "v1"), PartOutcome(2, "v2"))
    for upstream in ("u1", "u2", "v1"):
        await receipt(db, upstream, "100")
    await receipt(db, "v2", "UNDELIV")

    seen = await service.overview(account, ChartRange.DAY)
    assert seen.balance == 100 - 4
    assert (seen.today.sent, seen.today.sent_parts) == (2, 4)
    assert (seen.month.sent, seen.recent.delivered, seen.recent.failed) == (2, 1, 2)
    assert seen.delivery_rate == 1 / 3  # the invalid number counts as a failure
    assert seen.failures == [("112", 1), ("UNDELIV", 1)]
    assert seen.replies_waiting == 0
    assert len(seen.chart) == 24
    assert seen.chart[-1] == Point(message_stats.hour_of(clock()), 2, 1, 2)
    assert sum(p.sent for p in seen.chart[:-1]) == 0

    week = await service.overview(account, ChartRange.WEEK)
    assert len(week.chart) == 7 and (week.chart[-1].sent, week.chart[-1].failed) == (2, 2)
    month = await service.overview(account, ChartRange.MONTH)
    assert len(month.chart) == 30 and sum(p.delivered for p in month.chart) == 1

    # 31 days later the messages are out of every period but the chart's zeros.
    clock.advance(31 * 24 * HOUR)
    later = await service.overview(account, ChartRange.MONTH)
    assert later.recent.ended == 0 and later.delivery_rate is None and later.failures == []
    assert not any(p.sent for p in later.chart)
