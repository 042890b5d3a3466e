"""The store and the use cases over it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.gates import Gatekeeper
from hongyan.core.models import Account
from hongyan.core.service import CustomerService, SendForm
from hongyan.errors import InvalidInput, NotFound, Rejected
from hongyan.protocol.stat import Stat
from hongyan.store import accounts as account_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.store.partitions import is_partition
from hongyan.store.schema import (
    ONTO_PARTITIONS,
    ledger,
    messages,
    metadata,
    reports,
    submissions,
)
from tests.clock import ControlledClock
from tests.conftest import Customer, create_customer


async def service_for(settings: Settings, db: Database, clock: Clock = now_ms) -> CustomerService:
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    return CustomerService(settings, db, gates, clock)


async def sender(
    settings: Settings, db: Database, operator: Operator, clock: Clock = now_ms, **options: Any
) -> tuple[CustomerService, Account, Customer]:
    """A service on `clock`, and a new customer's account as the gates see it."""
    service = await service_for(settings, db, clock)
    customer = await create_customer(operator, **options)
    account = await service.gates.account(customer.uid)
    assert account is not None
    return service, account, customer


async def counts(db: Database) -> tuple[int, int, int, int]:
    async with db.read() as conn:
        return tuple(  # type: ignore[return-value]
            [
                (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (submissions, messages, ledger, reports)
            ]
        )


async def test_migrations_create_exactly_the_schema(db: Database) -> None:
    """History's partitions on PostgreSQL are made by housekeeping, not listed
    in the schema: they are left out (test_partitions_store.py has them)."""

    def tables_only(name: str | None, kind: str, parents: object) -> bool:
        return not (kind == "table" and name is not None and is_partition(name))

    def keys_onto_tables(item: Any, name: str | None, kind: str, *flags: object) -> bool:
        if kind != "foreign_key_constraint":
            return True
        # One onto a partitioned table would show once per partition too.
        return not (
            is_partition(item.referred_table.name) or (postgres and name in ONTO_PARTITIONS)
        )

    postgres = not db.is_sqlite
    options = {"include_name": tables_only, "include_object": keys_onto_tables}
    async with db.read() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts=options), metadata)
        )
    assert diff == []


async def test_send_charges_parts_per_valid_number_with_one_ledger_entry(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=100)
    accepted = await service.send(
        account, SendForm("13900008888,1390000test,13100006666", "好" * 71), post=False
    )
    assert (accepted.sent, accepted.refused, accepted.charged) == (2, 1, 4)
    summary = await operator.show(customer.uid)
    assert (summary.balance, summary.sent_total) == (96, 4)
    async with db.read() as conn:
        assert await account_store.ledger_sum(conn, summary.id) == 96
        rows = (
            await conn.execute(
                select(messages.c.mobile, messages.c.state, messages.c.status, messages.c.charged)
                .where(messages.c.account_id == summary.id)
                .order_by(messages.c.id)
            )
        ).all()
        report_rows = (await conn.execute(select(reports.c.mobile, reports.c.status))).all()
    assert [tuple(r) for r in rows] == [
        ("13900008888", "queued", "0", 2),
        ("1390000test", "failed", "112", 0),
        ("13100006666", "queued", "0", 2),
    ]
    assert [tuple(r) for r in report_rows] == [("1390000test", "112")]


async def test_insufficient_balance_stores_and_charges_nothing(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=1)
    before = await counts(db)
    with pytest.raises(Rejected) as rejected:
        await service.send(account, SendForm("13900008888,13100006666", "hi"), post=False)
    assert rejected.value.stat == Stat.INSUFFICIENT_BALANCE
    assert await counts(db) == before
    assert (await operator.show(customer.uid)).balance == 1


async def test_group_commit_keeps_balance_equal_to_ledger_under_concurrency(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=150)

    async def one(i: int) -> Stat:
        try:
            await service.send(account, SendForm(f"139{i:08d}", "code 1234"), post=False)
        except Rejected as exc:
            return exc.stat
        return Stat.OK

    stats = await asyncio.gather(*(one(i) for i in range(200)))
    assert stats.count(Stat.OK) == 150
    assert stats.count(Stat.INSUFFICIENT_BALANCE) == 50
    summary = await operator.show(customer.uid)
    async with db.read() as conn:
        assert await account_store.ledger_sum(conn, summary.id) == summary.balance == 0
    assert db.writer.batches < db.writer.items  # requests shared transactions


async def test_two_processes_never_charge_one_balance_twice(
    settings: Settings, db: Database, operator: Operator
) -> None:
    other = Database(settings)  # a second API process on the same database
    await other.start()
    try:
        services = [await service_for(settings, db), await service_for(settings, other)]
        customer = await create_customer(operator, balance=60)
        accounts = [await s.gates.account(customer.uid) for s in services]

        async def one(i: int) -> bool:
            service, account = services[i % 2], accounts[i % 2]
            assert account is not None
            try:
                await service.send(account, SendForm(f"138{i:08d}", "x"), post=False)
            except Rejected:
                return False
            return True

        results = await asyncio.gather(*(one(i) for i in range(100)))
    finally:
        await other.close()
    assert sum(results) == 60
    summary = await operator.show(customer.uid)
    assert (summary.balance, summary.sent_total) == (0, 60)


async def test_per_number_limits_count_only_accepted_sends(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _customer = await sender(
        settings, db, operator, ControlledClock(held=True), per_number="1/30s,2/d"
    )
    await service.send(account, SendForm("13900008888", "a"), post=False)
    with pytest.raises(Rejected) as rejected:
        await service.send(account, SendForm("13900008888", "b"), post=False)
    assert rejected.value.stat == Stat.PER_NUMBER_LIMITED
    # In a multi-number request the offending number is refused with a report.
    accepted = await service.send(account, SendForm("13900008888,13100006666", "c"), post=True)
    assert (accepted.sent, accepted.refused, accepted.charged) == (1, 1, 1)
    # Duplicates within one request count against the limit too.
    accepted = await service.send(account, SendForm("13700001111,13700001111", "d"), post=True)
    assert (accepted.sent, accepted.refused) == (1, 1)


async def test_request_rate_is_a_token_bucket_kept_with_the_account(
    settings: Settings, db: Database, operator: Operator
) -> None:
    # All five in one instant: on a slow machine no token may come back between them.
    service, account, customer = await sender(
        settings, db, operator, ControlledClock(held=True), rate="3"
    )
    stats = []
    for i in range(5):
        try:
            await service.send(account, SendForm(f"1360000{i:04d}", "x"), post=False)
            stats.append(Stat.OK)
        except Rejected as exc:
            stats.append(exc.stat)
    assert stats == [Stat.OK] * 3 + [Stat.RATE_LIMITED] * 2
    assert (await operator.show(customer.uid)).sent_total == 3


async def test_scheduled_sends_are_charged_now_and_due_later(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator)
    later = datetime.now(service.zone) + timedelta(days=2)
    accepted = await service.send(
        account, SendForm("13900008888", "later", time=later.strftime("%Y-%m-%d %H:%M")), post=False
    )
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(messages.c.created_at, messages.c.due_at).where(
                    messages.c.submission_id == accepted.submission_id
                )
            )
        ).one()
    assert row.due_at - row.created_at > 86_400_000
    assert (await operator.show(customer.uid)).balance == 999
    with pytest.raises(Rejected) as rejected:
        await service.send(
            account, SendForm("13900008888", "later", time="20991231235959"), post=False
        )
    assert rejected.value.stat == Stat.BAD_SCHEDULE_TIME


async def test_records_page_newest_first_with_filters(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _customer = await sender(settings, db, operator)
    for i in range(55):
        await service.send(account, SendForm(f"1350000{i:04d}", f"m{i}"), post=False)
    first = await service.records(account, page=1)
    second = await service.records(account, page=2)
    assert first.total == 55 and len(first.records) == 50 and len(second.records) == 5
    assert first.records[0].content == "m54" and second.records[-1].content == "m0"
    by_key = await service.records(account, key="+8613500000007")
    assert [r.content for r in by_key.records] == ["m7"]
    assert (await service.records(account, date="2001-01-01")).total == 0
    with pytest.raises(Rejected):
        await service.records(account, date="yesterday")


async def test_failed_logins_lock_after_the_limit(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service = await service_for(settings, db)
    gates = service.gates
    customer = await create_customer(operator)
    for _ in range(settings.lockout_failures):
        with pytest.raises(Rejected) as rejected:
            await gates.admit(customer.uid, "0" * 32, "192.0.2.1", sending=True)
        assert rejected.value.stat == Stat.AUTH_FAILED
    for pwd in ("0" * 32, customer.pwd):
        with pytest.raises(Rejected) as rejected:
            await gates.admit(customer.uid, pwd, "192.0.2.1", sending=True)
        assert rejected.value.stat == Stat.ACCOUNT_LOCKED
    # Another address is not locked out; and a fresh process sees the lock from the store.
    assert (await gates.admit(customer.uid, customer.pwd, "192.0.2.2", sending=True)).uid
    fresh = Gatekeeper(settings, db)
    await fresh.refresh()
    with pytest.raises(Rejected):
        await fresh.admit(customer.uid, customer.pwd, "192.0.2.1", sending=True)


async def test_operator_changes_reach_a_running_process_on_refresh(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service = await service_for(settings, db)
    customer = await create_customer(operator)
    assert await service.gates.admit(customer.uid, customer.pwd, "127.0.0.1", sending=True)
    await operator.set_frozen(customer.uid, True)
    await service.gates.refresh()
    with pytest.raises(Rejected) as rejected:
        await service.gates.admit(customer.uid, customer.pwd, "127.0.0.1", sending=True)
    assert rejected.value.stat == Stat.ACCOUNT_FROZEN


async def test_operator_input_is_checked(operator: Operator) -> None:
    customer = await create_customer(operator)
    with pytest.raises(NotFound):
        await operator.topup("nobody", 5, "test")
    with pytest.raises(InvalidInput):
        await operator.topup(customer.uid, -5, "test")
    with pytest.raises(InvalidInput):
        await operator.bind_address(customer.uid, "999.1.1.1")
    with pytest.raises(InvalidInput):
        await operator.create_account(customer.uid, "pw")
    with pytest.raises(InvalidInput):
        await operator.set_limits(customer.uid, per_number="often")
    for i in range(10):
        await operator.bind_address(customer.uid, f"10.0.{i}.0/24")
    with pytest.raises(InvalidInput):
        await operator.bind_address(customer.uid, "10.1.0.1")
    assert await operator.topup(customer.uid, 5, "test") == 1005


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    settings: Settings, db: Database
) -> None:
    untrusted = Gatekeeper(settings, db)
    assert untrusted.client_address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    trusting = Gatekeeper(settings.model_copy(update={"trusted_proxies": ("10.0.0.0/8",)}), db)
    assert trusting.client_address("10.1.1.1", "203.0.113.9") == "203.0.113.9"
    # The client is the last hop the trusted proxies did not add; a forged first hop is ignored.
    assert trusting.client_address("10.1.1.1", "1.1.1.1, 203.0.113.9, 10.2.2.2") == "203.0.113.9"
    assert trusting.client_address("10.1.1.1", "garbage") == "10.1.1.1"
    assert trusting.client_address("192.0.2.5", "203.0.113.9") == "192.0.2.5"


async def test_reports_are_handed_out_once_across_processes(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator)
    numbers = ",".join(["13900008888"] + [f"bad{i}" for i in range(300)])
    await service.send(account, SendForm(numbers, "x"), post=True)
    other = Database(settings)
    await other.start()
    try:
        services = [service, await service_for(settings, other)]
        calls = await asyncio.gather(*(services[i % 2].reports(account) for i in range(8)))
    finally:
        await other.close()
    mobiles = [r.mobile for call in calls for r in call]
    assert sorted(mobiles) == sorted(f"bad{i}" for i in range(300))
    assert all(len(call) <= settings.reports_per_call for call in calls)
