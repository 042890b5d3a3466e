"""Finance reports and the ledger check on SQLite and PostgreSQL: the figures of
a ledger built entry by entry across Beijing day and month boundaries, keyset
pages, the CSV file and its audit entry, and the check finding a tampered
balance, a tampered entry and a missing one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select, update

from hongyan.config import Settings
from hongyan.console import csv_export
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.finance import (
    CSV_HEADER,
    Difference,
    Finance,
    FinanceRow,
    Grain,
    ReportQuery,
    csv_cells,
    month,
    report_query,
)
from hongyan.core.ledger import Period
from hongyan.core.service import SendForm
from hongyan.core.states import LedgerKind
from hongyan.errors import Forbidden, InvalidInput
from hongyan.store.database import Database
from hongyan.store.schema import accounts, audit_log, ledger
from tests.conftest import create_customer
from tests.store.test_store import sender

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(text: str) -> int:
    """Epoch ms of a Beijing wall-clock time `YYYY-MM-DD HH:MM:SS.fff`."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


async def account_id(db: Database, uid: str) -> int:
    async with db.read() as conn:
        return int(
            (await conn.execute(select(accounts.c.id).where(accounts.c.uid == uid))).scalar_one()
        )


async def entry(db: Database, account: int, kind: LedgerKind, delta: int, at: str) -> int:
    """One ledger entry as the store writes one: the balance and the entry together."""
    async with db.transaction() as conn:
        balance = (
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account)
                .values(balance=accounts.c.balance + delta)
                .returning(accounts.c.balance)
            )
        ).scalar_one()
        return int(
            (
                await conn.execute(
                    insert(ledger)
                    .values(
                        account_id=account,
                        delta=delta,
                        balance_after=balance,
                        kind=kind,
                        created_at=beijing(at),
                    )
                    .returning(ledger.c.id)
                )
            ).scalar_one()
        )


async def two_accounts(db: Database, operator: Operator) -> tuple[str, str, int, int]:
    """Entries on both sides of midnight and of the month's ends, Beijing time."""
    a = (await create_customer(operator, balance=0)).uid
    b = (await create_customer(operator, balance=0)).uid
    ida, idb = await account_id(db, a), await account_id(db, b)
    await entry(db, ida, LedgerKind.TOPUP, 1000, "2026-10-31 23:59:59.999")
    await entry(db, ida, LedgerKind.CHARGE, -10, "2026-11-01 00:00:00.000")
    await entry(db, ida, LedgerKind.REFUND, 1, "2026-11-15 12:00:00.000")
    await entry(db, ida, LedgerKind.DEBIT, -100, "2026-11-15 13:00:00.000")
    await entry(db, ida, LedgerKind.CHARGE, -5, "2026-11-30 23:59:59.999")
    await entry(db, ida, LedgerKind.REFUND, 2, "2026-12-01 00:00:00.000")
    # 07:59 Beijing is the day before in UTC: still 15 November here.
    await entry(db, idb, LedgerKind.TOPUP, 50, "2026-11-15 07:59:00.000")
    await entry(db, idb, LedgerKind.CHARGE, -3, "2026-11-15 08:00:00.000")
    return a, b, ida, idb


def cells(rows: list[FinanceRow]) -> list[tuple[str | int, ...]]:
    return [csv_cells(r) for r in rows]


async def test_parts_per_account_per_beijing_day_and_month(
    db: Database, operator: Operator
) -> None:
    a, b, _, _ = await two_accounts(db, operator)
    finance = Finance(db, BEIJING)
    november = await finance.page(ReportQuery(month("2026-11"), Grain.DAY))
    assert cells(november.rows) == [
        ("2026-11-01", a, 10, 0, 10, 0, 0),
        ("2026-11-15", a, 0, 1, -1, 0, 100),
        ("2026-11-15", b, 3, 0, 3, 50, 0),
        ("2026-11-30", a, 5, 0, 5, 0, 0),
    ]
    assert november.next_after is None
    t = november.totals
    assert (t.charged, t.refunded, t.net, t.topped_up, t.deducted, t.accounts) == (
        18,
        1,
        17,
        50,
        100,
        2,
    )
    quarter = report_query(BEIJING, 0, first="2026-10-01", last="2026-12-31", by="month")
    by_month = await finance.page(quarter)
    assert cells(by_month.rows) == [
        ("2026-10", a, 0, 0, 0, 1000, 0),
        ("2026-11", a, 15, 1, 14, 0, 100),
        ("2026-11", b, 3, 0, 3, 50, 0),
        ("2026-12", a, 0, 2, -2, 0, 0),
    ]
    only_b = await finance.page(ReportQuery(quarter.period, Grain.MONTH, b))
    assert cells(only_b.rows) == [("2026-11", b, 3, 0, 3, 50, 0)]
    assert only_b.totals.accounts == 1 and only_b.totals.topped_up == 50


async def test_pages_follow_the_cursor_through_every_row(db: Database, operator: Operator) -> None:
    await two_accounts(db, operator)
    finance = Finance(db, BEIJING)
    for by in (Grain.DAY, Grain.MONTH):
        query = ReportQuery(Period(month("2026-10").first, month("2026-12").last), by)
        every = [r for chunk in [c async for c in finance.rows(query, chunk=2)] for r in chunk]
        paged, after = [], None
        while True:
            page = await finance.page(query, after=after, size=1)
            paged += page.rows
            after = page.next_after
            if after is None:
                break
        assert paged == every and len(every) == (6 if by == Grain.DAY else 4)


async def test_the_csv_adds_up_and_the_export_is_audited(db: Database, operator: Operator) -> None:
    a, b, _, _ = await two_accounts(db, operator)
    finance = Finance(db, BEIJING)
    query = ReportQuery(Period(month("2026-10").first, month("2026-12").last), Grain.MONTH)
    lines = await finance.export(Actor.cli(), query, chunk=1)
    data = b"".join([part async for part in csv_export.stream(CSV_HEADER, lines)])
    assert data.decode("utf-8") == (
        "\ufeffperiod,account,charged,refunded,net charged,topped up,deducted\r\n"
        f"2026-10,{a},0,0,0,1000,0\r\n"
        f"2026-11,{a},15,1,14,0,100\r\n"
        f"2026-11,{b},3,0,3,50,0\r\n"
        f"2026-12,{a},0,2,-2,0,0\r\n"
        "total,,18,3,15,1050,100\r\n"
    )
    async with db.read() as conn:
        entries = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.target, audit_log.c.via).where(
                    audit_log.c.action == "finance.export"
                )
            )
        ).all()
    assert [tuple(e) for e in entries] == [("finance.export", "finance:all-accounts", "cli")]
    support = Actor(name="sam", role="support", via="console", address="10.0.0.9")
    with pytest.raises(Forbidden):
        await finance.export(support, query)
    async with db.read() as conn:
        exports = select(func.count()).where(audit_log.c.action == "finance.export")
        assert (await conn.execute(exports)).scalar_one() == 1


def test_a_report_period_is_read_or_refused() -> None:
    assert month("2026-02") == Period(datetime(2026, 2, 1).date(), datetime(2026, 2, 28).date())
    assert month("2026-12").last == datetime(2026, 12, 31).date()
    for bad in ("2026-13", "2026-1", "26-01", "x"):
        with pytest.raises(InvalidInput):
            month(bad)
    with pytest.raises(InvalidInput):
        report_query(BEIJING, 0, month_text="2026-11", first="2026-11-01")
    with pytest.raises(InvalidInput):
        report_query(BEIJING, 0, month_text="2026-11", by="week")


async def test_a_clean_ledger_passes_the_check(
    settings: Settings, db: Database, operator: Operator
) -> None:
    await two_accounts(db, operator)
    service, account, _ = await sender(settings, db, operator, balance=100)
    await service.send(account, SendForm("13800000000,13800000001", "check"), post=False)
    result = await Finance(db, BEIJING).check()
    assert result.ok and result.problems == []
    async with db.read() as conn:
        entries = (await conn.execute(select(func.count()).select_from(ledger))).scalar_one()
        count = (await conn.execute(select(func.count()).select_from(accounts))).scalar_one()
    # 8 built entries; the sender's initial top-up and its charge.
    assert (result.accounts, result.entries) == (count, entries) == (3, 10)


async def test_the_check_names_a_tampered_balance(db: Database, operator: Operator) -> None:
    a, _, ida, _ = await two_accounts(db, operator)
    async with db.transaction() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == ida).values(balance=accounts.c.balance + 7)
        )
    result = await Finance(db, BEIJING).check()
    assert not result.ok and result.differing_accounts == [a]
    assert {(p.difference, p.expected, p.found) for p in result.problems} == {
        (Difference.SUM, 895, 888),
        (Difference.NEWEST, 895, 888),
    }


async def test_the_check_names_a_tampered_entry(db: Database, operator: Operator) -> None:
    _, b, _, idb = await two_accounts(db, operator)
    async with db.read() as conn:
        first = (
            await conn.execute(select(func.min(ledger.c.id)).where(ledger.c.account_id == idb))
        ).scalar_one()
    async with db.transaction() as conn:
        await conn.execute(update(ledger).where(ledger.c.id == first).values(delta=60))
    result = await Finance(db, BEIJING).check()
    assert result.differing_accounts == [b]
    chain = [p for p in result.problems if p.difference == Difference.CHAIN]
    assert [(p.entry_id, p.previous_id, p.expected, p.found) for p in chain] == [
        (first, None, 60, 50)
    ]
    assert any(p.difference == Difference.SUM for p in result.problems)


async def test_the_check_names_a_missing_entry(db: Database, operator: Operator) -> None:
    a, _, ida, _ = await two_accounts(db, operator)
    async with db.read() as conn:
        ids = (
            (
                await conn.execute(
                    select(ledger.c.id).where(ledger.c.account_id == ida).order_by(ledger.c.id)
                )
            )
            .scalars()
            .all()
        )
    async with db.transaction() as conn:
        await conn.execute(delete(ledger).where(ledger.c.id == ids[2]))  # the refund of 1
    result = await Finance(db, BEIJING).check()
    assert result.differing_accounts == [a]
    chain = [p for p in result.problems if p.difference == Difference.CHAIN]
    assert [(p.entry_id, p.previous_id) for p in chain] == [(ids[3], ids[1])]
    assert {p.difference for p in result.problems} == {Difference.CHAIN, Difference.SUM}
    # The newest entry gone too: it no longer says the balance.
    async with db.transaction() as conn:
        await conn.execute(delete(ledger).where(ledger.c.id == ids[-1]))
    newest = await Finance(db, BEIJING).check()
    assert Difference.NEWEST in {p.difference for p in newest.problems}
