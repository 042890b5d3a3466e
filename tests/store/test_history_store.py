"""The console's history on SQLite and PostgreSQL: keyset pages, filters,
exports by chunk, one message in full, the replies inbox; and no account
reaching another's rows by an id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.models import Account
from hongyan.core.records import MessageFilter, ReplyFilter
from hongyan.core.service import CustomerService, SendForm
from hongyan.core.states import LedgerKind, MessageState, OutboxKind, OutboxState, StatusClass
from hongyan.store.database import Database
from hongyan.store.schema import ledger, message_parts, messages, push_outbox, replies, reports
from tests.clock import ControlledClock
from tests.store.test_store import sender

DAY_MS = 86_400_000


async def all_pages(service: CustomerService, account: Account, f: MessageFilter) -> list[int]:
    """Every id, following `older` from the newest page; and back by `newer`."""
    window = await service.history.messages(account, f, size=50)
    pages = [[m.id for m in window.rows]]
    while window.older is not None:
        window = await service.history.messages(account, f, before=window.older, size=50)
        pages.append([m.id for m in window.rows])
    # Back from the oldest page: each page of `newer` is the page seen going down.
    back = [pages[-1]]
    while window.newer is not None:
        window = await service.history.messages(account, f, after=window.newer, size=50)
        back.append([m.id for m in window.rows])
    assert back[-1] == pages[0]
    return [i for page in pages for i in page]


async def busy_account(
    settings: Settings, db: Database, operator: Operator
) -> tuple[CustomerService, Account, ControlledClock]:
    """30 single sends a second apart, then one batch of 120 numbers (one created_at)."""
    clock = ControlledClock(held=True)
    service, account, _ = await sender(settings, db, operator, clock, balance=10_000)
    for i in range(30):
        clock.advance(1000)
        await service.send(account, SendForm(f"1350000{i:04d}", f"单条 {i}"), post=False)
    clock.advance(1000)
    batch = ",".join(f"1360000{i:04d}" for i in range(120))
    await service.send(account, SendForm(batch, "批量通知"), post=True)
    return service, account, clock


async def ids_in_order(db: Database, account_id: int) -> list[int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(messages.c.id)
            .where(messages.c.account_id == account_id)
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        )
        return [r.id for r in rows]


async def test_keyset_pages_cover_every_message_once_newest_first(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await busy_account(settings, db, operator)
    expected = await ids_in_order(db, account.id)
    assert len(expected) == 150
    # Pages 2 and 3 start inside the 120-number batch, whose messages share one time.
    assert await all_pages(service, account, MessageFilter()) == expected
    first = await service.history.messages(account, MessageFilter(), size=50)
    assert first.newer is None and first.rows[0].content == "批量通知"


async def test_filters_by_number_status_batch_and_dates(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, clock = await busy_account(settings, db, operator)
    history = service.history
    one = await history.messages(account, MessageFilter(mobile="13500000007"))
    assert [m.content for m in one.rows] == ["单条 7"]
    batch_id = (await history.messages(account, MessageFilter(), size=1)).rows[0].submission_id
    in_batch = await all_pages(service, account, MessageFilter(batch=batch_id))
    assert len(in_batch) == 120
    async with db.transaction() as conn:
        ids = await ids_in_order(db, account.id)
        # Final as the platform makes them: the state with the status.
        for chosen, status, state in (
            (ids[:30], "100", MessageState.DELIVERED),
            (ids[30:33], "UNDELIV", MessageState.FAILED),
            (ids[33:35], "MK:0001", MessageState.FAILED),
        ):
            await conn.execute(
                update(messages).where(messages.c.id.in_(chosen)).values(status=status, state=state)
            )
    by_status = {
        s: len(await all_pages(service, account, MessageFilter(status=s)))
        for s in (StatusClass.DELIVERED, StatusClass.FAILED, StatusClass.WAITING, "MK:0001")
    }
    assert by_status == {"delivered": 30, "failed": 5, "waiting": 115, "MK:0001": 2}
    now = clock()
    assert not (await history.messages(account, MessageFilter(until=now - DAY_MS))).rows
    recent = MessageFilter(since=now - 20_000, until=now + 1)
    # The batch, and the single sends of the 20 seconds before it (one a second).
    assert len(await all_pages(service, account, recent)) == 120 + 20


async def test_no_account_reaches_anothers_rows_by_an_id(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, mine, _ = await busy_account(settings, db, operator)
    _, theirs, _ = await sender(settings, db, operator, balance=100)
    await service.send(theirs, SendForm("13700001111", "别人的短信"), post=False)
    their_message = (await service.history.messages(theirs, MessageFilter())).rows[0]
    assert await service.history.message(mine, their_message.id) is None
    assert (await service.history.message(theirs, their_message.id)) is not None
    batch = MessageFilter(batch=their_message.submission_id)
    assert not (await service.history.messages(mine, batch)).rows
    # Their id as a cursor is no cursor at all: my newest page, nothing of theirs.
    page = await service.history.messages(mine, MessageFilter(), before=their_message.id)
    assert page.newer is None and "别人的短信" not in {m.content for m in page.rows}
    exported = [m async for chunk in service.history.export_messages(mine, batch) for m in chunk]
    assert exported == []


async def test_an_export_reads_every_row_in_chunks_in_page_order(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await busy_account(settings, db, operator)
    chunks = [
        [m.id for m in chunk]
        async for chunk in service.history.export_messages(account, MessageFilter(), chunk=40)
    ]
    assert [len(c) for c in chunks] == [40, 40, 40, 30]
    assert [i for c in chunks for i in c] == await ids_in_order(db, account.id)


async def test_a_message_in_full_with_its_parts_report_and_refund(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, account, _ = await sender(settings, db, operator, clock, balance=100)
    await service.send(account, SendForm("13800000000,13800000001", "好" * 71), post=False)
    rows = (await service.history.messages(account, MessageFilter())).rows
    failed, other = rows[-1], rows[0]
    t = clock()
    async with db.transaction() as conn:
        await conn.execute(
            insert(message_parts),
            [
                {
                    "message_id": failed.id,
                    "seq": seq,
                    "channel": "sim",
                    "upstream_id": f"u{seq}",
                    "state": state,
                    "status": status,
                    "submitted_at": t + 10,
                    "done_at": t + 90,
                }
                for seq, state, status in ((1, "delivered", "100"), (2, "failed", "UNDELIV"))
            ],
        )
        await conn.execute(
            update(messages)
            .where(messages.c.id == failed.id)
            .values(status="UNDELIV", state="failed", done_at=t + 90)
        )
        for message_id in (failed.id, other.id):
            await conn.execute(
                insert(reports).values(
                    account_id=account.id,
                    message_id=message_id,
                    mobile="",
                    mobileid="",
                    status="UNDELIV",
                    created_at=t + 90,
                    fetched_at=t + 95,
                )
            )
            await conn.execute(
                insert(ledger).values(
                    account_id=account.id,
                    delta=2,
                    balance_after=98,
                    kind=LedgerKind.REFUND,
                    submission_id=failed.submission_id,
                    note=f"message {message_id}: UNDELIV",
                    created_at=t + 90,
                )
            )
    detail = await service.history.message(account, failed.id)
    assert detail is not None
    assert detail.message.content == "好" * 71 and detail.charged == 2
    assert [(p.seq, p.state, p.status) for p in detail.parts] == [
        (1, "delivered", "100"),
        (2, "failed", "UNDELIV"),
    ]
    assert [(r.status, r.fetched_at, r.push_waiting) for r in detail.reports] == [
        ("UNDELIV", t + 95, False)
    ]
    # Its own refund only, not the other message's of the same batch.
    assert [(r.delta, r.note) for r in detail.refunds] == [(2, f"message {failed.id}: UNDELIV")]


async def add_reply(
    db: Database, account_id: int, mobile: str, text: str, at: int, **more: Any
) -> int:
    async with db.transaction() as conn:
        return int(
            (
                await conn.execute(
                    insert(replies)
                    .values(
                        account_id=account_id,
                        mobile=mobile,
                        content=text,
                        gateway="10690001",
                        channel="sim",
                        received_at=at,
                        **more,
                    )
                    .returning(replies.c.id)
                )
            ).scalar_one()
        )


async def test_replies_inbox_search_pages_and_push_state(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    service, account, _ = await sender(settings, db, operator, clock)
    _, other, _ = await sender(settings, db, operator, clock)
    t = clock()
    for i in range(60):
        await add_reply(db, account.id, f"1390000{i % 3:04d}", f"回复{i} ok", t + i * 1000)
    await add_reply(db, account.id, "13900009999", "退订 TD 100%_sure", t + 70_000)
    pushed = await add_reply(
        db,
        account.id,
        "13900009998",
        "pushed",
        t + 71_000,
        fetched_at=t + 71_000,
        pushed_at=t + 71_500,
    )
    queued = await add_reply(
        db, account.id, "13900009997", "queued", t + 72_000, fetched_at=t + 72_000
    )
    await add_reply(db, other.id, "13900009999", "别人的 td", t + 73_000)
    async with db.transaction() as conn:
        await conn.execute(
            insert(push_outbox).values(
                account_id=account.id,
                kind=OutboxKind.REPLY,
                item_id=queued,
                state=OutboxState.QUEUED,
                attempts=0,
                created_at=t,
                next_at=t,
            )
        )
    history = service.history
    first = await history.replies(account, ReplyFilter())
    assert len(first.rows) == 50 and first.rows[0].content == "queued"
    assert first.rows[0].push_waiting and first.rows[1].id == pushed
    assert first.rows[1].pushed_at == t + 71_500 and not first.rows[1].push_waiting
    second = await history.replies(account, ReplyFilter(), before=first.older)
    assert len(second.rows) == 13 and second.older is None and second.newer == second.rows[0].id
    # Any case, and % and _ are plain characters, not patterns.
    found = await history.replies(account, ReplyFilter(text="td 100%_"))
    assert [r.content for r in found.rows] == ["退订 TD 100%_sure"]
    assert not (await history.replies(account, ReplyFilter(text="%"))).rows[1:]
    by_number = await history.replies(account, ReplyFilter(mobile="13900000001"))
    assert len(by_number.rows) == 20
    window = ReplyFilter(since=t + 10_000, until=t + 20_000)
    assert len((await history.replies(account, window)).rows) == 10
    exported = [r async for c in history.export_replies(account, ReplyFilter(), chunk=7) for r in c]
    assert len(exported) == 63 and "别人的 td" not in {r.content for r in exported}
