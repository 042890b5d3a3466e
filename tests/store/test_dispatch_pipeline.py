"""The dispatcher's pipeline on SQLite and PostgreSQL: the next batch is claimed
while one is on the wire, batches go out one after another in claim order, and
stopping lets the batch on the wire finish and be recorded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hongyan.channels.base import Part, SubmitOutcome
from hongyan.channels.simulator import SimulatedCarrier, SimulatorSettings
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.delivery import DeliverySink
from hongyan.core.models import Claimed
from hongyan.core.service import SendForm
from hongyan.dispatch.dispatcher import Dispatcher
from hongyan.dispatch.routing import Router
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.schema import message_parts, messages
from tests.conftest import on_database
from tests.store.test_store import sender
from tests.waiting import WAIT_S, until_async

MESSAGES = 60
BATCH = 10


class Wire(SimulatedCarrier):
    """The simulator, noting each batch it takes; `gate`, when set, holds a
    batch until the test's condition holds."""

    def __init__(self) -> None:
        super().__init__(SimulatorSettings(name="sim", delay_min_s=60, delay_max_s=60))
        self.batches: list[list[int]] = []
        self.in_flight = self.most_in_flight = 0
        self.gate: Any = None
        self.errors: list[str] = []
        self.faults = 0  # batches to fail with an unexpected error

    async def submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]:
        if self.faults:
            self.faults -= 1
            raise RuntimeError("a bug in the channel")
        return await self._submit(parts)

    async def _submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                gate, self.gate = self.gate, None
                try:
                    await asyncio.wait_for(gate(), WAIT_S)
                except TimeoutError:
                    self.errors.append("the gate's condition never held")
            self.batches.append([part.message_id for part in parts])
            return await super().submit(parts)
        finally:
            self.in_flight -= 1


async def platform(
    settings: Settings,
    db: Database,
    operator: Operator,
    lease_s: float = 30,
    count: int = MESSAGES,
) -> tuple[Dispatcher, Wire, list[int]]:
    service, account, _ = await sender(settings, db, operator)
    for n in range(count):
        await service.send(account, SendForm(f"1390000{n:04d}", "x"), post=False)
    async with db.read() as conn:
        ids = list((await conn.execute(select(messages.c.id).order_by(messages.c.id))).scalars())
    wire = Wire()
    await wire.start(DeliverySink(db, settings.gateway_prefix))
    tuned = settings.model_copy(
        update={"dispatch_batch": BATCH, "dispatch_poll_s": 0.05, "lease_s": lease_s}
    )
    dispatcher = Dispatcher(tuned, db, service.gates, {"sim": wire}, Router("sim"))
    return dispatcher, wire, ids


async def recorded(db: Database) -> list[int]:
    """Messages whose submitted part is on record."""
    async with db.read() as conn:
        rows = await conn.execute(select(message_parts.c.message_id).distinct())
        return sorted(rows.scalars())


async def run_until_all_recorded(
    dispatcher: Dispatcher, wire: Wire, db: Database, ids: list[int], what: str
) -> None:
    """Start the dispatcher, wait until every message has its submit on record, stop."""
    await dispatcher.start()
    try:

        async def all_recorded() -> bool:
            return await recorded(db) == ids

        await eventually(all_recorded, what)
    finally:
        await dispatcher.stop()
        await wire.stop()


async def stop_while_held(dispatcher: Dispatcher, wire: Wire, release: asyncio.Event) -> None:
    """Stop while a batch is held on the wire: stop must wait for it; then release it."""
    stopping = asyncio.create_task(dispatcher.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done(), "stop did not wait for the batch on the wire"
    release.set()
    await stopping
    await wire.stop()


async def eventually(check: Any, what: str) -> None:
    await until_async(check, what)


async def test_the_next_batch_is_claimed_while_one_is_on_the_wire(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher, wire, ids = await platform(settings, db, operator)
    claims = 0
    claim = delivery.claim
    second_claimed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def counting(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
        # In the writer's thread.
        nonlocal claims
        answers = claim(conn, requests)
        if not on_database(conn, settings):
            return answers
        claims += sum(1 for claimed in answers if claimed)
        if claims >= 2:
            loop.call_soon_threadsafe(second_claimed.set)
        return answers

    monkeypatch.setattr(delivery, "claim", counting)
    wire.gate = second_claimed.wait
    await run_until_all_recorded(
        dispatcher, wire, db, ids, "not every message was submitted and recorded"
    )
    assert wire.errors == []
    assert [len(batch) for batch in wire.batches] == [BATCH] * (MESSAGES // BATCH)
    assert [m for batch in wire.batches for m in batch] == ids, "claim order on the wire"
    assert wire.most_in_flight == 1, "a batch goes out only once the one before has"


async def test_stopping_lets_the_batch_on_the_wire_finish_and_be_recorded(
    settings: Settings, db: Database, operator: Operator
) -> None:
    dispatcher, wire, ids = await platform(settings, db, operator)
    release = asyncio.Event()
    wire.gate = release.wait
    await dispatcher.start()

    async def held() -> bool:
        return wire.in_flight == 1

    await eventually(held, "the first batch never reached the wire")
    await stop_while_held(dispatcher, wire, release)
    assert wire.errors == []
    assert wire.batches[0] == ids[:BATCH]
    sent = [m for batch in wire.batches for m in batch]
    assert await recorded(db) == sorted(sent), "everything that went out is on record"
    assert len(sent) < MESSAGES, "nothing more is claimed once stopping"


async def test_a_round_that_fails_does_not_hold_up_the_next(
    settings: Settings, db: Database, operator: Operator
) -> None:
    dispatcher, wire, ids = await platform(settings, db, operator, lease_s=0.5)
    wire.faults = 1
    await run_until_all_recorded(dispatcher, wire, db, ids, "a failed round stopped the dispatcher")
    sent = [m for batch in wire.batches for m in batch]
    assert sorted(sent) == ids, "the failed batch went once its lease expired, the rest once"


async def test_a_batch_waiting_longer_than_a_lease_is_not_claimed_twice(
    settings: Settings, db: Database, operator: Operator
) -> None:
    # The first batch takes several leases' time on the wire (a paced channel);
    # the second, claimed meanwhile, waits for it. Its lease is renewed, so
    # the third claim does not take the second's messages again.
    dispatcher, wire, ids = await platform(settings, db, operator, lease_s=1.5)
    wire.gate = partial(asyncio.sleep, 4.5)
    await run_until_all_recorded(
        dispatcher, wire, db, ids, "not every message was submitted and recorded"
    )
    sent = Counter(m for batch in wire.batches for m in batch)
    assert [m for m, times in sent.items() if times > 1] == [], "submitted twice"
    assert sorted(sent) == ids


async def test_stopping_while_the_last_batch_is_on_the_wire_lets_it_be_recorded(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One batch only: once it is on the wire the loop finds nothing more to
    # claim and waits for the batch to end; stopping then must not cancel it.
    dispatcher, wire, ids = await platform(settings, db, operator, count=BATCH)
    claim = delivery.claim
    looked_again = asyncio.Event()
    loop = asyncio.get_running_loop()
    claims = 0

    def counting(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
        nonlocal claims
        if not on_database(conn, settings):
            return claim(conn, requests)
        claims += len(requests)
        if claims >= 2:
            loop.call_soon_threadsafe(looked_again.set)
        return claim(conn, requests)

    monkeypatch.setattr(delivery, "claim", counting)
    waiting_for_the_batch = asyncio.Event()
    settle = dispatcher._settle

    async def settling(done: Any) -> None:
        waiting_for_the_batch.set()
        await settle(done)

    monkeypatch.setattr(dispatcher, "_settle", settling)
    release = asyncio.Event()
    wire.gate = release.wait
    await dispatcher.start()
    await asyncio.wait_for(looked_again.wait(), WAIT_S)
    # Nothing more to claim: the loop waits for the batch on the wire.
    await asyncio.wait_for(waiting_for_the_batch.wait(), WAIT_S)
    await stop_while_held(dispatcher, wire, release)
    assert wire.batches == [ids]
    assert await recorded(db) == ids, "what went out is on record"
