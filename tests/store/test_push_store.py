"""The push outbox on SQLite and PostgreSQL: written with the item, claimed once, settled once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from hongyan.channels.base import InboundReply
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.models import Account
from hongyan.core.service import CustomerService, SendForm
from hongyan.core.states import PushResult
from hongyan.push.pusher import Pusher
from hongyan.store import push
from hongyan.store import replies as reply_store
from hongyan.store import reports as report_store
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.push import ClaimRequest, Outcome, Target
from hongyan.store.schema import push_outbox
from hongyan.testing import PushReceiver
from tests import waiting
from tests.conftest import make_settings
from tests.store.test_store import sender
from tests.waiting import WAIT_S

LEASE = 30_000
URL = "https://customer.example/push"


async def pushing_sender(
    settings: Settings, db: Database, operator: Operator, url: str = URL
) -> tuple[CustomerService, Account]:
    service, account, _ = await sender(settings, db, operator)
    async with db.transaction() as conn:
        target = Target(url, url, "GET", "", False)
        await conn.run_sync(lambda sync: push.set_target(sync, account.id, target, now_ms()))
    return service, account


async def claim(db: Database, now: int | None = None, limit: int = 100) -> list[push.Claimed]:
    return await db.write(push.claim, ClaimRequest(now or now_ms(), LEASE, limit, ()))


async def st(db: Database, account: Account) -> list[str]:
    request = report_store.ReportRequest(account.id, 500, now_ms())
    return [r.mobileid for r in await db.write(report_store.hand_out, request)]


async def outbox_rows(db: Database) -> list[tuple[str, str, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(push_outbox.c.kind, push_outbox.c.state, push_outbox.c.attempts).order_by(
                push_outbox.c.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_refused_number_of_a_pushing_account_is_queued_with_its_report(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account = await pushing_sender(settings, db, operator)
    other, plain, _ = await sender(settings, db, operator)
    await service.send(account, SendForm("13900008888,123", "hi", mobileids="a,b"), post=False)
    await other.send(plain, SendForm("13900008888,123", "hi", mobileids="c,d"), post=False)
    assert await outbox_rows(db) == [("report", "queued", 0)]
    assert await st(db, account) == []  # it is the pusher's now
    assert await st(db, plain) == ["d"]
    (item,) = await claim(db)
    assert (item.uid, item.url, item.mobile, item.mobileid, item.status) == (
        account.uid,
        URL,
        "123",
        "b",
        "112",
    )


async def test_a_claim_is_leased_and_taken_again_only_after_the_lease(
    settings: Settings, db: Database, operator: Operator
) -> None:
    _, account = await pushing_sender(settings, db, operator)
    await record_reply(db, settings, account, "hello")
    (first,) = await claim(db)
    assert first.kind == "reply" and first.content == "hello" and first.attempts == 0
    assert await claim(db) == []
    (again,) = await claim(db, now_ms() + LEASE + 1)
    assert again.id == first.id


async def record_reply(db: Database, settings: Settings, account: Account, text: str) -> None:
    summary = await Operator(settings, db, actor=Actor.cli()).show(account.uid)
    gateway = settings.gateway_prefix + summary.ext_code
    incoming = reply_store.IncomingReply(
        "sim", InboundReply("13900008888", gateway, text, now_ms()), settings.gateway_prefix
    )
    assert await db.write(reply_store.record, incoming) == account.id


async def test_outcomes_delete_reschedule_and_give_up_back_to_pull(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account = await pushing_sender(settings, db, operator)
    await service.send(
        account, SendForm("13900008888,1,2,3", "hi", mobileids="v,x,y,z"), post=False
    )
    a, b, c = await claim(db)
    now = now_ms()
    await db.write(
        push.record,
        [
            Outcome(a.id, a.kind, a.item_id, PushResult.DELIVERED, at=now),
            Outcome(b.id, b.kind, b.item_id, PushResult.RETRY, now + 60_000, "HTTP 500", now),
            Outcome(c.id, c.kind, c.item_id, PushResult.GIVE_UP, now, "timeout", now),
        ],
    )
    assert await outbox_rows(db) == [("report", "queued", 1), ("report", "given_up", 1)]
    assert await st(db, account) == ["z"]  # given up: /st/ hands it out
    assert await claim(db) == []  # the retry is not due yet
    (retry,) = await claim(db, now + 60_001)
    assert retry.id == b.id and retry.attempts == 1
    rows = await db.read_sync(lambda conn: push.status(conn, account.id))
    assert [(r.kind, r.url, r.queued, r.retrying, r.given_up) for r in rows] == [
        ("reply", URL, 0, 0, 0),
        ("report", URL, 0, 1, 1),
    ]
    row = rows[1]
    assert row.last_error in ("HTTP 500", "timeout")


async def test_turning_push_off_returns_queued_items_to_pull(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account = await pushing_sender(settings, db, operator)
    await service.send(account, SendForm("13900008888,1,2", "hi", mobileids="o,p,q"), post=False)
    await record_reply(db, settings, account, "r")
    async with db.transaction() as conn:
        await conn.run_sync(lambda sync: push.set_target(sync, account.id, None, now_ms()))
    assert await outbox_rows(db) == []
    assert await st(db, account) == ["p", "q"]
    request = reply_store.ReplyRequest(account.id, 500, now_ms(), None)
    assert [r.content for r in await db.write(reply_store.hand_out, request)] == ["r"]


async def test_two_pushers_never_claim_the_same_item(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account = await pushing_sender(settings, db, operator)
    numbers = ",".join(["13900008888", *(str(n) for n in range(1, 1001))])  # 1000 refused
    await service.send(account, SendForm(numbers, "hi"), post=True)
    other = Database(settings)
    await other.start()
    try:
        first, second = await asyncio.gather(claim(db, limit=600), claim(other, limit=600))
    finally:
        await other.close()
    ids = [i.id for i in first] + [i.id for i in second]
    assert len(ids) == len(set(ids)) == 1000


async def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_send_time(
    tmp_path: Path, database_url: str, operator: Operator
) -> None:
    """DNS changed after the URL was approved: the push is refused, nothing is sent."""
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        push={"allowed_networks": ["127.0.0.1/32"], "dns_cache_s": 0, "poll_s": 0.02},
    )
    db = Database(settings)
    await db.start()
    receiver = PushReceiver().start()
    answers = {"customer.test": "127.0.0.1"}

    async def resolve(host: str, port: int) -> list[str]:
        return [answers[host]]

    pusher = Pusher(settings, db, resolve=resolve)
    try:
        url = f"http://customer.test:{receiver.port}/push"
        service, account = await pushing_sender(settings, db, operator, url)
        await service.send(
            account, SendForm("13900008888,1", "hi", mobileids="ok,first"), post=False
        )
        await pusher.start()
        await until(lambda: len(receiver.received) == 1)
        (push_,) = receiver.received
        assert push_.headers["host"] == f"customer.test:{receiver.port}"
        answers["customer.test"] = "10.0.0.7"
        await service.send(
            account, SendForm("13900008888,2", "hi", mobileids="ok,second"), post=False
        )

        async def refused() -> bool:
            return (await report_status()).retrying == 1

        async def report_status() -> push.StreamStatus:
            rows = await db.read_sync(lambda conn: push.status(conn, account.id))
            return next(r for r in rows if r.kind == "report")

        await until_async(refused)
        row = await report_status()
        assert "10.0.0.7" in row.last_error and "not a public address" in row.last_error
        assert receiver.attempts == 1
    finally:
        await pusher.stop()
        receiver.stop()
        await db.close()


async def until(check: Callable[[], bool], within: float = WAIT_S) -> None:
    async def wrapped() -> bool:
        return check()

    await until_async(wrapped, within)


async def until_async(check: Callable[[], Awaitable[bool]], within: float = WAIT_S) -> None:
    await waiting.until_async(check, getattr(check, "__name__", "the condition"), within)
