"""Long replies on SQLite and PostgreSQL: parts gathered into one reply, and
parts acknowledged upstream never dropped (recorded as far as they go when the
rest never comes, or when their reference is taken by another reply)."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from hongyan.channels.base import InboundFragment, Receipt
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.delivery import DeliverySink, Housekeeper
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.replies import Reply, ReplyRequest, hand_out
from hongyan.store.schema import early_receipts, reply_fragments
from tests.store.test_store import sender

MOBILE = "13900001111"
WAIT_S = 300


async def setup(
    settings: Settings, db: Database, operator: Operator
) -> tuple[DeliverySink, Housekeeper, int, str]:
    """A sink, a housekeeper, an account's id and its gateway number."""
    _, account, _ = await sender(settings, db, operator)
    sink = DeliverySink(db, settings.gateway_prefix, WAIT_S)
    return sink, Housekeeper(settings, db), account.id, settings.gateway_prefix + account.ext_code


def part(gateway: str, reference: int, total: int, seq: int, text: str, at: int) -> InboundFragment:
    return InboundFragment(MOBILE, gateway, reference, total, seq, text, at)


async def replies(db: Database, account_id: int) -> list[str]:
    got = await db.write(hand_out, ReplyRequest(account_id, 100, now_ms(), None))
    return [reply.content for reply in got]


async def kept(db: Database, recorded_too: bool = False) -> int:
    """Parts waiting for the rest of their reply (and those of recorded replies)."""
    query = select(func.count()).select_from(reply_fragments)
    if not recorded_too:
        query = query.where(reply_fragments.c.completed_at.is_(None))
    async with db.read() as conn:
        count = (await conn.execute(query)).scalar()
    return int(count or 0)


async def test_parts_in_any_order_and_offered_twice_make_one_reply(
    settings: Settings, db: Database, operator: Operator
) -> None:
    sink, _, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    await sink.reply_part("smpp", part(gateway, 7, 3, 3, "C", now))
    await sink.reply_part("smpp", part(gateway, 7, 3, 1, "A", now))
    await sink.reply_part("smpp", part(gateway, 7, 3, 1, "A", now + 5))  # its resp was lost
    assert await replies(db, account_id) == []
    await sink.reply_part("smpp", part(gateway, 7, 3, 2, "B", now + 10))
    got = await db.write(hand_out, ReplyRequest(account_id, 100, now_ms(), None))
    assert got == [Reply(MOBILE, "ABC", now + 10, gateway)]
    assert await kept(db) == 0


async def test_a_reply_whose_last_part_never_comes_is_recorded_as_far_as_it_goes(
    settings: Settings, db: Database, operator: Operator
) -> None:
    sink, housekeeper, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    await sink.reply_part("smpp", part(gateway, 9, 3, 3, "tail", now))
    await sink.reply_part("smpp", part(gateway, 9, 3, 1, "head ", now))
    assert await housekeeper.run_once(now + WAIT_S * 1000 - 1) == (0, 0), "still waiting"
    assert await housekeeper.run_once(now + WAIT_S * 1000 + 1) == (1, 0)
    assert await replies(db, account_id) == ["head tail"]
    assert await kept(db) == 0
    assert await housekeeper.run_once(now + WAIT_S * 1000 + 2) == (0, 0)


async def test_a_reference_taken_by_another_reply_records_the_first_as_it_is(
    settings: Settings, db: Database, operator: Operator
) -> None:
    sink, _, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    # Another part count under the same reference: another reply.
    await sink.reply_part("smpp", part(gateway, 3, 2, 1, "first, ", now))
    await sink.reply_part("smpp", part(gateway, 3, 3, 1, "second: 1", now + 1))
    assert await replies(db, account_id) == ["first, "]
    # The same count, but past the wait: the handset has reused the reference.
    late = now + 1 + WAIT_S * 1000 + 1
    await sink.reply_part("smpp", part(gateway, 3, 3, 2, "third", late))
    assert await replies(db, account_id) == ["second: 1"]
    await sink.reply_part("smpp", part(gateway, 3, 3, 1, "3a ", late))
    await sink.reply_part("smpp", part(gateway, 3, 3, 3, "3c", late))
    assert await replies(db, account_id) == ["3a third3c"]
    assert await kept(db) == 0


async def test_receipts_never_matched_are_deleted_after_they_are_kept_for_long_enough(
    settings: Settings, db: Database, operator: Operator
) -> None:
    _, housekeeper, _, _ = await setup(settings, db, operator)
    now = now_ms()
    keep_ms = int(settings.early_receipts_keep_s * 1000)
    await db.write(delivery.record_receipts, ("sim", Receipt("old", "DELIVRD", now - keep_ms - 1)))
    await db.write(delivery.record_receipts, ("sim", Receipt("recent", "DELIVRD", now)))
    assert await housekeeper.run_once(now) == (0, 1)
    async with db.read() as conn:
        left = (await conn.execute(select(early_receipts.c.upstream_id))).scalars().all()
    assert left == ["recent"]


async def test_a_part_offered_again_after_its_reply_was_recorded_is_not_a_new_reply(
    settings: Settings, db: Database, operator: Operator
) -> None:
    sink, housekeeper, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    await sink.reply_part("smpp", part(gateway, 4, 2, 1, "one ", now))
    await sink.reply_part("smpp", part(gateway, 4, 2, 2, "two", now + 1))
    assert await replies(db, account_id) == ["one two"]
    # The SMSC did not get our deliver_sm_resp in time and offers part 2 again.
    await sink.reply_part("smpp", part(gateway, 4, 2, 2, "two", now + 2000))
    assert await housekeeper.run_once(now + WAIT_S * 1000 + 5000) == (0, 0)
    assert await replies(db, account_id) == []
    assert await kept(db, recorded_too=True) == 0, "recorded replies are forgotten after the wait"


async def test_other_text_for_a_waiting_part_is_another_reply(
    settings: Settings, db: Database, operator: Operator
) -> None:
    sink, _, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    await sink.reply_part("smpp", part(gateway, 5, 2, 1, "old start", now))
    await sink.reply_part("smpp", part(gateway, 5, 2, 1, "new start, ", now + 1))
    assert await replies(db, account_id) == ["old start"]
    await sink.reply_part("smpp", part(gateway, 5, 2, 2, "new end", now + 2))
    assert await replies(db, account_id) == ["new start, new end"]


async def test_a_whole_reply_no_process_saw_whole_is_recorded_by_the_sweep(
    settings: Settings, db: Database, operator: Operator
) -> None:
    # On PostgreSQL two processes can each store one part, neither seeing the
    # other's uncommitted row: both parts kept, the reply not recorded.
    _, housekeeper, account_id, gateway = await setup(settings, db, operator)
    now = now_ms()
    rows = [
        {"seq": seq, "content": text, "received_at": now}
        for seq, text in ((1, "first "), (2, "second"))
    ]
    common = {"channel": "smpp", "mobile": MOBILE, "reference": 6, "total": 2, "gateway": gateway}
    async with db.transaction() as conn:
        await conn.execute(insert(reply_fragments), [{**common, **row} for row in rows])
    assert await housekeeper.run_once(now + 1) == (0, 0), "whole, not incomplete"
    assert await replies(db, account_id) == ["first second"]
