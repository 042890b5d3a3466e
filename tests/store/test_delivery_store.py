"""Delivery state on SQLite and PostgreSQL: one final state and one report per message."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hongyan.channels.base import Receipt
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.models import Claimed, MessageOutcome, PartOutcome
from hongyan.core.service import SendForm
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.engine import now_ms
from hongyan.store.schema import accounts, message_parts, messages, reports
from tests.store.test_store import sender

LEASE = 30_000


async def claim(db: Database, now: int | None = None) -> list[Claimed]:
    return await db.write(delivery.claim, ClaimRequest(now or now_ms(), LEASE, 100))


async def outcome(db: Database, message_id: int, *parts: PartOutcome, ttl: int = 60_000) -> None:
    """The outcome of the message's latest claim."""
    now = now_ms()
    async with db.read() as conn:
        attempt = (
            await conn.execute(select(messages.c.attempts).where(messages.c.id == message_id))
        ).scalar_one()
    await db.write(
        delivery.record_outcomes,
        MessageOutcome(
            message_id, "sim", now, list(parts), retry_at=now, expires_at=now + ttl, attempt=attempt
        ),
    )


async def receipt(db: Database, upstream_id: str, status: str) -> None:
    await db.write(delivery.record_receipts, ("sim", Receipt(upstream_id, status, now_ms())))


async def state(db: Database, message_id: int) -> tuple[str, str, int]:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(messages.c.state, messages.c.status).where(messages.c.id == message_id)
            )
        ).one()
        count = (
            await conn.execute(select(reports.c.id).where(reports.c.message_id == message_id))
        ).all()
    return row.state, row.status, len(count)


async def one_message(
    settings: Settings, db: Database, operator: Operator, text: str = "x", **options: object
) -> int:
    service, account, _ = await sender(settings, db, operator, **options)
    await service.send(account, SendForm("13900008888", text), post=False)
    (claimed,) = await claim(db)
    return claimed.id


async def test_a_receipt_before_its_submit_outcome_is_matched_later(
    settings: Settings, db: Database, operator: Operator
) -> None:
    message_id = await one_message(settings, db, operator)
    await receipt(db, "up-1", "100")
    assert await state(db, message_id) == ("queued", "0", 0)
    await outcome(db, message_id, PartOutcome(1, "up-1"))
    assert await state(db, message_id) == ("delivered", "100", 1)
    await receipt(db, "up-1", "UNDELIV")  # a duplicate changes nothing
    assert await state(db, message_id) == ("delivered", "100", 1)


async def test_a_long_message_is_final_when_all_parts_are_and_names_the_first_failure(
    settings: Settings, db: Database, operator: Operator
) -> None:
    message_id = await one_message(settings, db, operator, text="长" * 150)
    await outcome(db, message_id, PartOutcome(1, "p1"), PartOutcome(2, "p2"), PartOutcome(3, "p3"))
    await receipt(db, "p3", "EXPIRED")
    await receipt(db, "p1", "100")
    assert await state(db, message_id) == ("sent", "0", 0)
    await receipt(db, "p2", "UNDELIV")
    assert await state(db, message_id) == ("failed", "UNDELIV", 1)


async def test_after_a_crash_the_lease_expires_and_only_missing_parts_go_again(
    settings: Settings, db: Database, operator: Operator
) -> None:
    message_id = await one_message(settings, db, operator, text="长" * 100)
    # Part 1 accepted, part 2 throttled: the message waits for a retry.
    await outcome(db, message_id, PartOutcome(1, "a1"), PartOutcome(2, None, "THROTTLED", True))
    (again,) = await claim(db)
    assert again.id == message_id and again.submitted_seqs == {1}
    # This dispatcher dies holding the lease: nobody claims it until it expires.
    assert await claim(db) == []
    (after,) = await claim(db, now_ms() + LEASE + 1)
    assert after.id == message_id and after.attempts == 3


async def test_temporary_errors_past_the_time_to_live_expire_with_one_report(
    settings: Settings, db: Database, operator: Operator
) -> None:
    message_id = await one_message(settings, db, operator)
    await outcome(db, message_id, PartOutcome(1, None, "DOWN", True), ttl=0)
    assert await state(db, message_id) == ("failed", "EXPIRED", 1)


async def test_a_permanent_refusal_fails_and_refunds_when_the_account_says_so(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator)
    async with db.transaction() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == account.id).values(refund_on_failure=True)
        )
    await service.send(account, SendForm("13900008888", "x"), post=False)
    (claimed,) = await claim(db)
    await outcome(db, claimed.id, PartOutcome(1, None, "ESME_RINVDSTADR", False))
    assert await state(db, claimed.id) == ("failed", "ESME_RINVDSTADR", 1)
    summary = await operator.show(customer.uid)
    assert summary.balance == 1000  # charged 1, refunded 1


async def test_a_claim_taken_over_is_fenced_off(
    settings: Settings, db: Database, operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16 item 3: a dispatcher that stalled past its lease comes back
    after another claimed the message. Its renewal does not take the lease
    back, and its late outcome is logged and changes nothing; the current
    claim's outcome is recorded, once."""
    service, account, _ = await sender(settings, db, operator)
    await service.send(account, SendForm("13900008888", "x"), post=False)
    t = now_ms()
    (stalled,) = await claim(db, t)
    (current,) = await claim(db, t + LEASE + 1)  # the first lease ran out
    assert current.id == stalled.id and current.attempts == stalled.attempts + 1

    stale = delivery.LeaseRenewal(((stalled.id, stalled.attempts),), t + 100 * LEASE)
    await db.write(delivery.renew_leases, stale)
    async with db.read() as conn:
        lease = (
            await conn.execute(select(messages.c.lease_until).where(messages.c.id == current.id))
        ).scalar_one()
    assert lease == t + LEASE + 1 + LEASE

    def late(claimed: Claimed, upstream_id: str) -> MessageOutcome:
        now = now_ms()
        parts = [PartOutcome(1, upstream_id)]
        return MessageOutcome(
            claimed.id,
            "sim",
            now,
            parts,
            retry_at=now,
            expires_at=now + 60_000,
            attempt=claimed.attempts,
        )

    await db.write(delivery.record_outcomes, late(stalled, "late-1"))
    assert await state(db, stalled.id) == ("queued", "0", 0)
    async with db.read() as conn:
        assert (await conn.execute(select(message_parts.c.upstream_id))).all() == []
    assert "late outcome of a message claimed again since" in caplog.text

    await db.write(delivery.record_outcomes, late(current, "up-1"))
    await receipt(db, "up-1", "100")
    await receipt(db, "late-1", "100")  # the stalled one's part: matches nothing
    assert await state(db, current.id) == ("delivered", "100", 1)


async def test_recording_looks_messages_up_by_primary_key(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """A state filter beside `id IN (...)` made SQLite scan the state index, so
    every batch cost as much as the whole backlog."""
    if not settings.is_sqlite:
        return  # the query planner in question is SQLite's
    from sqlalchemy import event

    from hongyan.store.engine import create_sqlite_writer_engine

    service, account, _ = await sender(settings, db, operator)
    await service.send(account, SendForm("13900008888,13900008889", "长" * 100), post=True)
    claimed = await claim(db)
    engine = create_sqlite_writer_engine(settings.database_url)
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    now = now_ms()
    with engine.begin() as conn:
        delivery.record_outcomes(
            conn,
            [
                MessageOutcome(
                    m.id,
                    "sim",
                    now,
                    [PartOutcome(1, f"u{m.id}-1"), PartOutcome(2, f"u{m.id}-2")],
                    retry_at=now,
                    expires_at=now + 60_000,
                    attempt=m.attempts,
                )
                for m in claimed
            ],
        )
        delivery.record_receipts(
            conn,
            [("sim", Receipt(f"u{m.id}-{seq}", "100", now)) for m in claimed for seq in (1, 2)],
        )
        event.remove(engine, "before_cursor_execute", capture)
        plans = []
        for statement, _ in list(statements):
            if "messages" in statement and not statement.startswith("INSERT"):
                plan = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement,
                    _first_params(_),
                ).all()
                plans.append((statement, " ".join(str(row[-1]) for row in plan)))
    engine.dispose()
    assert plans
    for statement, plan in plans:
        assert "ix_messages_state_due_at" not in plan, (statement, plan)
    assert await state(db, claimed[0].id) == ("delivered", "100", 1)


def _first_params(parameters: object) -> object:
    if isinstance(parameters, list):
        return parameters[0]
    return parameters
