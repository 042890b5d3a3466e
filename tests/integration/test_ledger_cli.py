"""`hongyan ledger check`, `ledger report` and `message search/show` as an
operator runs them, on SQLite and PostgreSQL: the check exits 0 on a clean
ledger and 1 naming the account on a tampered balance, a tampered entry or
a missing entry."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.service import SendForm
from hongyan.store.database import Database
from hongyan.store.schema import accounts, audit_log, ledger, messages
from tests.store.test_store import sender
from tests.waiting import WAIT_S


def hongyan(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env.update(
        HONGYAN_DATABASE_URL=settings.database_url,
        HONGYAN_VAR_DIR=str(settings.var_dir),
        HONGYAN_SECRET="test-secret",
    )
    return subprocess.run(
        [sys.executable, "-m", "hongyan", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )


async def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(hongyan, settings, *args)


async def balance_up(conn: AsyncConnection, account_id: int, first: int) -> None:
    await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(balance=accounts.c.balance + 1)
    )


async def entry_changed(conn: AsyncConnection, account_id: int, first: int) -> None:
    await conn.execute(update(ledger).where(ledger.c.id == first).values(delta=ledger.c.delta + 1))


async def entry_gone(conn: AsyncConnection, account_id: int, first: int) -> None:
    await conn.execute(delete(ledger).where(ledger.c.id == first))


Tamper = Callable[[AsyncConnection, int, int], Awaitable[None]]


@pytest.mark.parametrize("tamper", [balance_up, entry_changed, entry_gone])
async def test_ledger_check_exits_1_naming_the_account(
    settings: Settings, db: Database, operator: Operator, tamper: Tamper
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=100)
    _, other, _ = await sender(settings, db, operator, balance=30)
    for n in range(3):
        await service.send(account, SendForm(f"1380000000{n}", f"hi {n}"), post=False)
    clean = await run(settings, "ledger", "check")
    assert clean.returncode == 0, clean.stderr
    assert "ledger ok: 2 accounts and 5 ledger entries checked" in clean.stdout
    async with db.transaction() as conn:
        first = (
            await conn.execute(
                select(func.min(ledger.c.id)).where(ledger.c.account_id == account.id)
            )
        ).scalar_one()
        await tamper(conn, account.id, first)
    broken = await run(settings, "ledger", "check")
    assert broken.returncode == 1
    assert f"ledger differs in 1 account ({customer.uid})" in broken.stderr
    assert f"account {customer.uid}:" in broken.stderr
    assert other.uid not in broken.stderr


async def test_report_csv_and_message_commands(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, customer = await sender(settings, db, operator, balance=100)
    await service.send(account, SendForm("13800000001,13800000002", "你好"), post=False)
    report = await run(settings, "ledger", "report", "--uid", customer.uid)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0].split() == [
        "period",
        "account",
        "charged",
        "refunded",
        "net",
        "topped",
        "up",
        "deducted",
    ]
    assert lines[-2].split() == ["total", "2", "0", "2", "100", "0"]
    assert lines[-1].startswith("1 row, ")
    csv = await run(
        settings, "ledger", "report", "--uid", customer.uid, "--by", "month", "--csv", "-"
    )
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.startswith("\ufeffperiod,account,charged")
    # (text mode reads the file's CRLF as newlines)
    assert csv.stdout.endswith("total,,2,0,2,100,0\n")
    async with db.read() as conn:
        audited = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.target).where(
                    audit_log.c.action == "finance.export"
                )
            )
        ).all()
    assert [tuple(a) for a in audited] == [("finance.export", f"account:{customer.uid}")]
    bad = await run(settings, "ledger", "report", "--month", "2026-13")
    assert bad.returncode == 1 and "a month is YYYY-MM" in bad.stderr

    found = await run(settings, "message", "search", "--mobile", "13800000002")
    assert found.returncode == 0, found.stderr
    assert len(found.stdout.splitlines()) == 1 and customer.uid in found.stdout
    async with db.read() as conn:
        message_id = (
            await conn.execute(select(messages.c.id).where(messages.c.mobile == "13800000002"))
        ).scalar_one()
    paged = await run(settings, "message", "search", "--uid", customer.uid, "--limit", "1")
    assert paged.stdout.splitlines()[-1].startswith("more: --before ")
    shown = await run(settings, "message", "show", str(message_id))
    assert shown.returncode == 0, shown.stderr
    assert f"message {message_id} of account {customer.uid}" in shown.stdout
    assert "accepted, 1 part" in shown.stdout and "charged 1 parts" in shown.stdout
    missing = await run(settings, "message", "show", "999999")
    assert missing.returncode == 1 and "no message 999999" in missing.stderr
