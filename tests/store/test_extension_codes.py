"""Extension codes on SQLite and PostgreSQL past 10,000 accounts: every code
prefix-free, and every reply given to the account it was sent to, whatever its
`mid` (issue 11, item 4). The old allocator gave account 10000 the code
`10000`, which `1000` begins: a reply to account 1000 with mid `05` went to
account 10000.

Accounts the allocator gives the same codes as the old one (0001-8999) are
written in bulk; those from the width change on are created by the store's
own `create_account`, one at a time as the CLI does.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import insert, select

from hongyan.channels.base import InboundReply
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.extensions import collisions
from hongyan.store import accounts as account_store
from hongyan.store import replies as reply_store
from hongyan.store.database import Database
from hongyan.store.schema import accounts, replies
from tests.store.old_accounts import old_account_rows

MOBILE = "13900008888"


async def _bulk(db: Database, codes: list[str]) -> None:
    """Accounts as an earlier version of the platform left them."""
    rows = old_account_rows({f"old{code}": code for code in codes})
    async with db.transaction() as conn:
        await conn.execute(insert(accounts), rows)


async def _create(db: Database, count: int) -> list[str]:
    """`count` new accounts, each allocated its code by the store; their codes."""
    made = []
    async with db.transaction() as conn:
        for n in range(count):
            account_id = await account_store.create_account(
                conn,
                uid=f"new{n}",
                api_key_digest="x",
                key_version=1,
                console_hash="x",
                balance=0,
                per_number="off",
                rate_limit=None,
                now=n,
            )
            code = await conn.execute(
                select(accounts.c.ext_code).where(accounts.c.id == account_id)
            )
            made.append(code.scalar_one())
    return made


@pytest.mark.parametrize(
    ("old_codes", "new_codes", "replied"),
    [
        # A fresh platform: 0001-8999, then six digits.
        (
            [f"{n:04d}" for n in range(1, 8990)],
            [*(f"{n:04d}" for n in range(8990, 9000)), *map(str, range(900_000, 901_052))],
            "",  # every account
        ),
        # A platform of 9,500 accounts from the old allocator (9000-9500 in use):
        # six-digit codes start past every block those begin.
        (
            [f"{n:04d}" for n in range(1, 9501)],
            [str(n) for n in range(950_100, 950_650)],
            "9",  # the accounts whose codes could collide: 9000-9500 and the new ones
        ),
    ],
    ids=["fresh", "from-9500-old-accounts"],
)
async def test_ten_thousand_accounts_and_every_reply_to_its_account(
    settings: Settings, db: Database, old_codes: list[str], new_codes: list[str], replied: str
) -> None:
    await _bulk(db, old_codes)
    made = await _create(db, len(new_codes))
    async with db.read() as conn:
        code_of = dict((await conn.execute(select(accounts.c.id, accounts.c.ext_code))).all())
    assert len(code_of) >= 10_000
    assert collisions((code, code) for code in code_of.values()) == []

    # A gateway number with a mid of each length 0-6 for every account (over
    # 70,000): none is two accounts', and each splits into its account's code.
    prefix = settings.gateway_prefix
    rng = random.Random(4)
    numbers: dict[int, list[str]] = {}
    owner: dict[str, int] = {}
    for account_id, code in code_of.items():
        numbers[account_id] = [
            prefix + code + "".join(rng.choice("0123456789") for _ in range(length))
            for length in range(7)
        ]
        for gateway in numbers[account_id]:
            assert owner.setdefault(gateway, account_id) == account_id, gateway
    # A reply to one of each account's numbers, recorded as the channels do it.
    sent = {
        rng.choice(gateways): account_id
        for account_id, gateways in numbers.items()
        if code_of[account_id].startswith(replied)
    }
    items = [
        reply_store.IncomingReply("sim", InboundReply(MOBILE, gateway, "TD", 1), prefix)
        for gateway in sent
    ]
    owners = await asyncio.gather(*(db.write(reply_store.record, item) for item in items))
    assert owners == list(sent.values())
    async with db.read() as conn:
        got = dict((await conn.execute(select(replies.c.gateway, replies.c.account_id))).all())
    assert got == sent
    assert made == new_codes


async def test_a_reply_two_codes_could_own_is_given_to_neither(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Codes that collide (written by hand: migration 0007 refuses to start on
    them) leave the owner unknown; the old longest match gave the reply meant
    for account 1000 with mid 05 to account 10000."""
    await _bulk(db, ["1000", "10000"])
    prefix = settings.gateway_prefix
    reply = InboundReply(MOBILE, prefix + "100005", "TD", 1)
    assert (
        await db.write(reply_store.record, reply_store.IncomingReply("sim", reply, prefix)) is None
    )
    assert "several accounts" in caplog.text


async def test_accounts_created_at_once_get_codes_none_of_which_begins_another(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """Accounts created at the same moment (several operators, or nodes, on
    PostgreSQL), on a fresh database and again across the change of width:
    every creation succeeds, and no code begins another."""
    await asyncio.gather(*(operator.create_account(f"first{n}", "pw") for n in range(12)))
    # The rest of the first tier taken, and two old codes that rule out 900000-900199.
    await _bulk(db, [*(f"{n:04d}" for n in range(100, 8999)), "9000", "9001"])
    await asyncio.gather(*(operator.create_account(f"then{n}", "pw") for n in range(12)))
    async with db.read() as conn:
        codes = dict((await conn.execute(select(accounts.c.uid, accounts.c.ext_code))).all())
    assert collisions(codes.items()) == []
    assert sorted(code for uid, code in codes.items() if uid.startswith("first")) == [
        f"{n:04d}" for n in range(1, 13)
    ]
    assert sorted(code for uid, code in codes.items() if uid.startswith("then")) == [
        "8999",
        *(str(n) for n in range(900_200, 900_211)),
    ]
