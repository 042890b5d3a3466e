"""The operators' message search across accounts and a message's whole life, on
SQLite and PostgreSQL: filters, keyset pages, and the life of a delivered and
pushed message and of a failed, refunded and fetched one, made by the
delivery store's own functions."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.message_life import EventKind, MessageLives
from hongyan.core.message_search import MessageSearch, SearchFilter, search_filter
from hongyan.core.models import MessageOutcome, PartOutcome, Receipt
from hongyan.core.records import MessageFilter
from hongyan.core.service import SendForm
from hongyan.core.states import MessageState, OutboxKind, PushResult, StatusClass
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import delivery, push
from hongyan.store.database import Database
from hongyan.store.reports import ReportRequest, hand_out
from hongyan.store.schema import accounts, messages, push_outbox, reports
from tests.clock import ControlledClock
from tests.store.test_store import sender

BEIJING = ZoneInfo("Asia/Shanghai")


async def newest_first(db: Database, **where: object) -> list[int]:
    async with db.read() as conn:
        query = select(messages.c.id).order_by(messages.c.created_at.desc(), messages.c.id.desc())
        for column, value in where.items():
            query = query.where(messages.c[column] == value)
        return list((await conn.execute(query)).scalars())


async def every_page(search: MessageSearch, f: SearchFilter, size: int) -> list[int]:
    """Down by `older` from the newest page, then back up by `newer`."""
    window = await search.search(f, size=size)
    pages = [[m.id for m in window.rows]]
    while window.older is not None:
        window = await search.search(f, before=window.older, size=size)
        pages.append([m.id for m in window.rows])
    back = [pages[-1]]
    while window.newer is not None:
        window = await search.search(f, after=window.newer, size=size)
        back.append([m.id for m in window.rows])
    assert back[-1] == pages[0]
    return [i for page in pages for i in page]


async def test_search_across_accounts_by_every_filter(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, mine, me = await sender(settings, db, operator, clock, balance=1000)
    _, theirs, them = await sender(settings, db, operator, clock, balance=1000)
    for i in range(12):
        clock.advance(1000)
        await service.send(mine, SendForm(f"1390000{i % 4:04d}", f"mine {i}"), post=False)
        clock.advance(1000)
        await service.send(theirs, SendForm(f"1390000{i % 3:04d}", f"theirs {i}"), post=False)
    clock.advance(1000)
    await service.send(
        mine, SendForm(",".join(f"1370000{i:04d}" for i in range(30)), "b"), post=True
    )
    search = MessageSearch(db)
    everything = await newest_first(db)
    assert await every_page(search, SearchFilter(), 7) == everything
    number = SearchFilter(MessageFilter(mobile="13900000001"))
    found = await every_page(search, number, 2)
    assert found == await newest_first(db, mobile="13900000001") and len(found) == 3 + 4
    window = await search.search(number)
    assert {m.uid for m in window.rows} == {me.uid, them.uid}
    assert await every_page(search, SearchFilter(uid=them.uid), 5) == await newest_first(
        db, account_id=theirs.id
    )
    both = SearchFilter(MessageFilter(mobile="13900000001"), uid=them.uid)
    assert [m.content for m in (await search.search(both)).rows] == [
        "theirs 10",
        "theirs 7",
        "theirs 4",
        "theirs 1",
    ]
    batch_id = (await search.search(SearchFilter(), size=1)).rows[0].submission_id
    in_batch = SearchFilter(MessageFilter(batch=batch_id))
    assert len(await every_page(search, in_batch, 8)) == 30
    one = everything[5]
    assert [m.id for m in (await search.search(SearchFilter(message_id=one))).rows] == [one]
    # Channels and final statuses, as the dispatcher and receipts leave them.
    async with db.transaction() as conn:
        theirs_ids = await newest_first(db, account_id=theirs.id)
        await conn.execute(
            update(messages).where(messages.c.id.in_(theirs_ids[:5])).values(channel="cmcc")
        )
        await conn.execute(
            update(messages)
            .where(messages.c.id.in_(theirs_ids[:3]))
            .values(state=MessageState.DELIVERED, status="100")
        )
        await conn.execute(
            update(messages)
            .where(messages.c.id.in_(theirs_ids[3:5]))
            .values(state=MessageState.FAILED, status="UNDELIV")
        )
    on_cmcc = await every_page(search, SearchFilter(channel="cmcc"), 2)
    assert on_cmcc == theirs_ids[:5]
    by_status = {
        s: len(await every_page(search, SearchFilter(MessageFilter(status=s)), 10))
        for s in (StatusClass.DELIVERED, StatusClass.FAILED, StatusClass.WAITING, "UNDELIV")
    }
    assert by_status == {"delivered": 3, "failed": 2, "waiting": len(everything) - 5, "UNDELIV": 2}
    mine_failed = SearchFilter(MessageFilter(status=StatusClass.FAILED), uid=me.uid)
    assert (await search.search(mine_failed)).rows == ()
    now = clock()
    recent = SearchFilter(MessageFilter(since=now - 2500, until=now + 1))
    # The batch, and the last single send of each account before it.
    assert len(await every_page(search, recent, 10)) == 30 + 2
    with pytest.raises(NotFound):
        await search.search(SearchFilter(uid="nobody-at-all"))


def test_a_search_is_read_as_the_customer_console_reads_it() -> None:
    f = search_filter(
        BEIJING,
        mobile="13900000001",
        uid=" demo ",
        channel="cmcc",
        status="failed",
        since="2026-11-01",
        until="2026-11-30",
        batch="12",
        message_id="34",
    )
    assert f.uid == "demo" and f.channel == "cmcc" and f.message_id == 34
    assert f.messages.mobile == "13900000001" and f.messages.batch == 12
    assert f.messages.status == "failed"
    assert f.messages.until is not None and f.messages.since is not None
    assert f.messages.until - f.messages.since == 30 * 86_400_000
    for bad in ({"message_id": "x1"}, {"since": "2026-13-01"}, {"channel": "c" * 41}):
        with pytest.raises(InvalidInput):
            search_filter(BEIJING, **bad)


async def deliver(db: Database, now: int, outcomes: list[MessageOutcome]) -> None:
    async with db.transaction() as conn:
        claimed = await conn.run_sync(
            lambda c: delivery.claim(c, [delivery.ClaimRequest(now, 60_000, 100)])
        )
        assert {m.id for m in claimed[0]} == {o.message_id for o in outcomes}
        await conn.run_sync(lambda c: delivery.record_outcomes(c, outcomes))


async def receipts(db: Database, items: list[tuple[str, Receipt]]) -> None:
    async with db.transaction() as conn:
        await conn.run_sync(lambda c: delivery.record_receipts(c, items))


async def test_the_whole_life_of_a_delivered_and_a_failed_message(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, pusher, _ = await sender(settings, db, operator, clock, balance=100)
    _, refunded, who = await sender(settings, db, operator, clock, balance=100)
    t = clock()
    async with db.transaction() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == refunded.id).values(refund_on_failure=True)
        )
        target = push.Target("", "http://push.example/r", "GET", "", False)
        await conn.run_sync(lambda c: push.set_target(c, pusher.id, target, t))
    await service.send(pusher, SendForm("13800000001", "好" * 71), post=False)
    await service.send(refunded, SendForm("13800000002", "好" * 71), post=False)
    ok_id, failed_id = await newest_first(db, mobile="13800000001") + await newest_first(
        db, mobile="13800000002"
    )

    def parts(prefix: str) -> list[PartOutcome]:
        return [PartOutcome(seq, f"{prefix}-{seq}", at=t + 1000 + 100 * seq) for seq in (1, 2)]

    await deliver(
        db,
        t + 1000,
        [
            MessageOutcome(ok_id, "cmcc", t + 1300, parts("ok"), attempt=1),
            MessageOutcome(failed_id, "cmcc", t + 1300, parts("bad"), attempt=1),
        ],
    )
    await receipts(
        db,
        [
            ("cmcc", Receipt("ok-1", "100", t + 5000)),
            ("cmcc", Receipt("ok-2", "100", t + 6000)),
            ("cmcc", Receipt("bad-1", "100", t + 5000)),
            ("cmcc", Receipt("bad-2", "UNDELIV", t + 6000)),
        ],
    )
    async with db.transaction() as conn:
        row = (
            await conn.execute(
                select(push_outbox.c.id, push_outbox.c.item_id).where(
                    push_outbox.c.account_id == pusher.id
                )
            )
        ).one()
        pushed = push.Outcome(
            row.id, OutboxKind.REPORT, row.item_id, PushResult.DELIVERED, at=t + 7000
        )
        await conn.run_sync(lambda c: push.record(c, [[pushed]]))
        await conn.run_sync(lambda c: hand_out(c, [ReportRequest(refunded.id, 10, t + 8000)]))
    lives = MessageLives(db)
    ok = await lives.life(ok_id)
    assert ok is not None and ok.final and ok.status == "100" and ok.charged == 2
    assert ok.explanation is not None and ok.explanation.known
    assert [(e.kind, e.at, e.seq, e.upstream_id) for e in ok.events] == [
        (EventKind.ACCEPTED, t, None, ""),
        (EventKind.CHARGED, t, None, ""),
        (EventKind.SUBMITTED, t + 1100, 1, "ok-1"),
        (EventKind.SUBMITTED, t + 1200, 2, "ok-2"),
        (EventKind.RECEIPT, t + 5000, 1, "ok-1"),
        (EventKind.RECEIPT, t + 6000, 2, "ok-2"),
        (EventKind.FINAL, t + 6000, None, ""),
        (EventKind.REPORT, t + 6000, None, ""),
        (EventKind.PUSHED, t + 7000, None, ""),
    ]
    charged = ok.events[1]
    assert (charged.parts, charged.delta, charged.balance_after) == (2, -2, 98)
    bad = await lives.life(failed_id)
    assert bad is not None and bad.uid == who.uid and bad.status == "UNDELIV"
    assert [(e.kind, e.at, e.status) for e in bad.events] == [
        (EventKind.ACCEPTED, t, ""),
        (EventKind.CHARGED, t, ""),
        (EventKind.SUBMITTED, t + 1100, ""),
        (EventKind.SUBMITTED, t + 1200, ""),
        (EventKind.RECEIPT, t + 5000, "100"),
        (EventKind.RECEIPT, t + 6000, "UNDELIV"),
        (EventKind.FINAL, t + 6000, "UNDELIV"),
        (EventKind.REFUNDED, t + 6000, ""),
        (EventKind.REPORT, t + 6000, "UNDELIV"),
        (EventKind.FETCHED, t + 8000, "UNDELIV"),
    ]
    refund = bad.events[7]
    assert (refund.parts, refund.balance_after) == (2, 100)
    receipt = bad.events[5]
    assert receipt.channel == "cmcc" and receipt.explanation is not None
    assert receipt.explanation.status == "UNDELIV"
    assert await lives.life(failed_id + ok_id + 1000) is None
    async with db.read() as conn:
        fetched = (
            await conn.execute(
                select(reports.c.fetched_at).where(reports.c.message_id == failed_id)
            )
        ).scalar_one()
    assert fetched == t + 8000
