"""The dispatcher's retry timing, on a clock the test holds (SQLite and PostgreSQL).

A message the carrier cannot take now comes back after an exponential
backoff with jitter (half to all of `retry_base_s * 2**(attempts - 1)`,
capped at `retry_max_s`), until its time to live is over (then EXPIRED).
With the platform's clock in the test's hand each step is checked to the
millisecond, with no sleeping: tried again neither early nor late.
"""

from __future__ import annotations

from sqlalchemy import select, update

from hongyan.channels.simulator import SimulatedCarrier, SimulatorSettings
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.service import SendForm
from hongyan.dispatch.dispatcher import Dispatcher
from hongyan.dispatch.routing import Router
from hongyan.store.database import Database
from hongyan.store.schema import messages
from tests.clock import ControlledClock
from tests.store.test_store import sender

OUTAGE_S = 3600  # down for longer than any test here runs


async def down_carrier_and_dispatcher(
    settings: Settings, db: Database, operator: Operator, clock: ControlledClock, **tuning: float
) -> Dispatcher:
    """One message accepted at the clock's time; a dispatcher, on the same clock,
    in front of a carrier that is down."""
    service, account, _ = await sender(settings, db, operator, clock)
    await service.send(account, SendForm("13900008888", "x"), post=False)
    carrier = SimulatedCarrier(SimulatorSettings(name="sim"))
    carrier.go_down(OUTAGE_S)
    tuned = settings.model_copy(update=tuning)
    return Dispatcher(tuned, db, service.gates, {"sim": carrier}, Router("sim"), clock)


async def message_row(db: Database) -> tuple[str, str, int]:
    async with db.read() as conn:
        row = (
            await conn.execute(select(messages.c.state, messages.c.status, messages.c.attempts))
        ).one()
    return row.state, row.status, row.attempts


async def test_a_message_comes_back_after_a_backoff_that_doubles_up_to_its_cap(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    dispatcher = await down_carrier_and_dispatcher(
        settings, db, operator, clock, retry_base_s=1, retry_max_s=8
    )
    assert await dispatcher.dispatch_once()  # the first attempt: the carrier is down
    for attempt, backoff_s in enumerate([1, 2, 4, 8, 8, 8], start=1):
        # Jitter: between half the backoff and all of it after the attempt.
        clock.advance(backoff_s * 500 - 1)
        assert not await dispatcher.dispatch_once(), f"tried again too soon after {attempt}"
        clock.advance(backoff_s * 500 + 1)
        assert await dispatcher.dispatch_once(), f"not tried again {backoff_s} s after {attempt}"
    assert await message_row(db) == ("queued", "0", 7)


async def test_a_message_expires_at_the_end_of_its_time_to_live(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    dispatcher = await down_carrier_and_dispatcher(
        settings, db, operator, clock, retry_base_s=1, retry_max_s=1, message_ttl_s=10
    )
    assert await dispatcher.dispatch_once()
    clock.advance(9_999)  # a millisecond of its time to live left: still retried
    assert await dispatcher.dispatch_once()
    assert await message_row(db) == ("queued", "0", 2)
    clock.advance(1_000)  # due again, and past its time to live
    assert await dispatcher.dispatch_once()
    assert await message_row(db) == ("failed", "EXPIRED", 3)
    clock.advance(3_600_000)
    assert not await dispatcher.dispatch_once()  # final: never tried again


async def test_a_message_that_failed_over_a_thousand_times_still_waits_the_cap(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """Retried every minute for a day, a message fails ~1,900 times; the old
    formula raised OverflowError past 1,024 (2.0 ** 1024 is no float)."""
    clock = ControlledClock(held=True)
    dispatcher = await down_carrier_and_dispatcher(
        settings, db, operator, clock, retry_base_s=1.0, retry_max_s=8.0
    )
    async with db.transaction() as conn:
        await conn.execute(update(messages).values(attempts=1_100))
    assert await dispatcher.dispatch_once()
    assert await message_row(db) == ("queued", "0", 1_101)
    clock.advance(4_000 - 1)
    assert not await dispatcher.dispatch_once(), "tried again before half the cap"
    clock.advance(4_000 + 1)
    assert await dispatcher.dispatch_once(), "not tried again after the cap"
    assert await message_row(db) == ("queued", "0", 1_102)
