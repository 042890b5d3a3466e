"""Every operator action leaves exactly one audit entry, in the transaction of
its change: who, via what, from where, what, on what, before and after
(issue 15 item 6). A refused action (bad input, or a role without it) leaves
none and changes nothing. On both databases, through core with a console
operator; tests/integration/test_audit_cli.py does the same through the CLI."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import pytest_asyncio

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import CONSOLE, Actor
from hongyan.core.roles import ADMIN
from hongyan.core.states import OutboxKind
from hongyan.errors import InvalidInput
from hongyan.store import accounts as account_store
from hongyan.store import audit as audit_store
from hongyan.store import system
from hongyan.store.audit import Entry
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from tests.conftest import create_customer, make_settings

ALICE = Actor(name="alice", role=ADMIN, via=CONSOLE, address="203.0.113.9", operator_id=7)
PASSWORD = "123123"  # create_customer's
SECRET = "s3cret-signing-key-0123"
LOCKED_CLIENT = "198.51.100.7"


def closed_port() -> int:
    """A loopback port nothing listens on: a test push there is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PUSH_URL = f"http://127.0.0.1:{closed_port()}/push"


@pytest.fixture
def audited_settings(tmp_path: Path, database_url: str) -> Settings:
    # The server key kept in var/secret (so it can be rotated); pushes to loopback allowed.
    return make_settings(
        tmp_path,
        database_url=database_url,
        secret="",
        push={"run": False, "allowed_networks": ["127.0.0.1/32"]},
    )


@pytest_asyncio.fixture
async def database(audited_settings: Settings) -> AsyncIterator[Database]:
    db = Database(audited_settings)
    await db.start()
    yield db
    await db.close()


def operator_as(settings: Settings, db: Database, actor: Actor) -> Operator:
    return Operator(settings, db, actor=actor)


async def entries(db: Database) -> list[Entry]:
    return await db.read_sync(lambda conn: audit_store.search(conn, limit=1000))


def loaded(text: str) -> Any:
    return json.loads(text) if text else None


async def lock(db: Database, uid: str) -> None:
    """Five failed logins from one client: a 114 lock (core/lockout.py)."""
    async with db.transaction() as conn:
        await conn.run_sync(
            lambda sync: system.record_failures(
                sync,
                [(uid, LOCKED_CLIENT, now_ms())],
                limit=1,
                window_ms=60_000,
                lock_ms=600_000,
            )
        )


Step = Callable[[Operator, str], Awaitable[object]]


async def nothing(op: Operator, uid: str) -> None:
    return None


@dataclass(frozen=True)
class Case:
    action: str
    perform: Step
    before: Any
    after: Any
    prepare: Step = nothing
    target: str = "account:{uid}"
    note: Any = ""


CASES = [
    Case(
        "account.create",
        lambda op, uid: op.create_account(uid + "n", "pw-new-1", 5),
        None,
        {"balance": 5, "ext_code": ANY, "rate_limit": ANY, "per_number": ANY},
        target="account:{uid}n",
    ),
    Case(
        "account.topup",
        lambda op, uid: op.topup(uid, 10, "bank transfer 7"),
        {"balance": 1000},
        {"balance": 1010, "amount": 10},
        note="bank transfer 7",
    ),
    Case(
        "account.deduct",
        lambda op, uid: op.deduct(uid, 10, "test sends"),
        {"balance": 1000},
        {"balance": 990, "amount": 10},
        note="test sends",
    ),
    Case(
        "account.freeze",
        lambda op, uid: op.set_frozen(uid, True),
        {"frozen": False},
        {"frozen": True},
    ),
    Case(
        "account.unfreeze",
        lambda op, uid: op.set_frozen(uid, False),
        {"frozen": True},
        {"frozen": False},
        prepare=lambda op, uid: op.set_frozen(uid, True),
    ),
    Case(
        "account.api_send",
        lambda op, uid: op.set_api_send(uid, False),
        {"api_send": True},
        {"api_send": False},
    ),
    Case(
        "account.refund",
        lambda op, uid: op.set_refund(uid, True),
        {"refund_on_failure": False},
        {"refund_on_failure": True},
    ),
    Case(
        "account.limits",
        lambda op, uid: op.set_limits(uid, rate="5", per_number="2/h"),
        {"rate_limit": None, "per_number": "off"},
        {"rate_limit": 5, "per_number": "2/h"},
    ),
    Case(
        "account.extension",
        lambda op, uid: op.set_extension(uid, "7777"),
        {"ext_code": "0001"},
        {"ext_code": "7777"},
    ),
    Case(
        "account.dialect",
        lambda op, uid: op.access.set_dialect(uid, "legacy"),
        {"dialect": "standard", "bare_md5": False},
        {"dialect": "legacy", "bare_md5": False},
    ),
    Case(
        "account.bare_md5",
        lambda op, uid: op.access.set_bare_md5(uid, True, PASSWORD),
        {"bare_md5": False},
        {"bare_md5": True},
        prepare=lambda op, uid: op.access.set_dialect(uid, "legacy"),
    ),
    Case(
        "account.push",
        lambda op, uid: op.set_push(uid, reports=PUSH_URL, method="POST", secret=SECRET),
        {"reports_url": "", "method": "GET", "signed": False},
        {"reports_url": PUSH_URL, "method": "POST", "signed": True, "secret changed": True},
    ),
    Case(
        "account.push",
        lambda op, uid: op.push_off(uid),
        {"replies_url": PUSH_URL, "reports_url": ""},
        {"replies_url": "", "reports_url": ""},
        prepare=lambda op, uid: op.set_push(uid, replies=PUSH_URL),
    ),
    Case(
        "account.bind",
        lambda op, uid: op.bind_address(uid, "203.0.113.0/24"),
        {"networks": []},
        {"networks": ["203.0.113.0/24"]},
    ),
    Case(
        "account.unbind",
        lambda op, uid: op.unbind_address(uid, "203.0.113.0/24"),
        {"networks": ["203.0.113.0/24"]},
        {"networks": []},
        prepare=lambda op, uid: op.bind_address(uid, "203.0.113.0/24"),
    ),
    Case(
        "account.password",
        lambda op, uid: op.access.set_password(uid, "n3w-pass-word"),
        None,
        {"password changed": True},
    ),
    Case(
        "account.unlock",
        lambda op, uid: op.access.unlock(uid),
        {"locked": [LOCKED_CLIENT]},
        {"locked": []},
        prepare=lambda op, uid: lock(op._db, uid),
    ),
    Case(
        "account.rekey",
        lambda op, uid: op.access.rotate_key(),
        {"current": 1, "versions": [1]},
        {"current": 2, "versions": [1, 2]},
        target="system:server_keys",
    ),
    Case(
        "account.rekey",
        lambda op, uid: op.access.retire_key(1),
        {"current": 2, "versions": [1, 2]},
        {"current": 2, "versions": [2]},
        # The customer's digest moves to key 2 with a new password: key 1 is unused.
        prepare=lambda op, uid: rotate_then_rekey(op, uid),
        target="system:server_keys",
    ),
    Case(
        "system.switch",
        lambda op, uid: op.set_switch(system.PAUSED, True),
        {"paused": False},
        {"paused": True},
        target="system:paused",
    ),
    Case(
        "system.switch",
        lambda op, uid: op.set_switch(system.MAINTENANCE, True),
        {"maintenance": False},
        {"maintenance": True},
        target="system:maintenance",
    ),
    Case(
        "keyword.add",
        lambda op, uid: op.add_keyword(" 赌博 "),
        {"blocked": False},
        {"blocked": True},
        target="keyword:赌博",
    ),
    Case(
        "keyword.remove",
        lambda op, uid: op.remove_keyword("赌博"),
        {"blocked": True},
        {"blocked": False},
        prepare=lambda op, uid: op.add_keyword("赌博"),
        target="keyword:赌博",
    ),
    Case(
        "mo.inject",
        lambda op, uid: op.inject_reply("13900008888", "TD", uid=uid, mid="12"),
        None,
        {"mobile": "13900008888", "gateway": ANY},
    ),
    Case(
        "push.test",
        lambda op, uid: op.test_push(uid, OutboxKind.REPORT),
        None,
        {"kind": "report", "url": PUSH_URL, "status": None},
        prepare=lambda op, uid: op.set_push(uid, reports=PUSH_URL),
        note=ANY,
    ),
]


async def rotate_then_rekey(op: Operator, uid: str) -> None:
    await op.access.rotate_key()
    await op.access.set_password(uid, "moved-to-key-2")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.action}-{i}" for i, c in enumerate(CASES)])
async def test_an_action_writes_one_entry_with_before_and_after(
    audited_settings: Settings, database: Database, case: Case
) -> None:
    admin = operator_as(audited_settings, database, Actor.cli())
    customer = await create_customer(admin)
    await case.prepare(admin, customer.uid)
    earlier = await entries(database)

    await case.perform(operator_as(audited_settings, database, ALICE), customer.uid)

    now = await entries(database)
    assert len(now) == len(earlier) + 1
    entry = now[0]
    assert (entry.actor, entry.via, entry.address) == ("alice", "console", "203.0.113.9")
    assert entry.action == case.action
    assert entry.target == case.target.format(uid=customer.uid)
    assert loaded(entry.before) == case.before
    assert loaded(entry.after) == case.after
    assert entry.note == case.note
    # Never a password, a signing secret or a digest.
    text = json.dumps(entry._asdict(), ensure_ascii=False)
    for secret in (PASSWORD, SECRET, "n3w-pass-word", "moved-to-key-2", customer.pwd):
        assert secret not in text


async def test_a_deduction_is_in_the_ledger_and_never_goes_below_zero(
    audited_settings: Settings, database: Database
) -> None:
    op = operator_as(audited_settings, database, ALICE)
    customer = await create_customer(op, balance=30)
    assert await op.deduct(customer.uid, 30, "closing the account") == 0
    with pytest.raises(InvalidInput, match="has 0 parts"):
        await op.deduct(customer.uid, 1, "one more")
    summary = await op.show(customer.uid)
    async with database.read() as conn:
        assert await account_store.ledger_sum(conn, summary.id) == summary.balance == 0
    assert [e.action for e in await entries(database)][:2] == ["account.deduct", "account.limits"]
