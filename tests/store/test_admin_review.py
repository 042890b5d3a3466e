"""Fixes from the operator console's review, in core, on SQLite and PostgreSQL:
an operator's read-only view is refused by core too (and ends with the
operator's access), a push change is made from the row under its lock,
money moves within bounds, a concurrent duplicate account is "already
exists", the finance page reads rows and totals together, and the customer's
settings act as the customer only."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, select

from hongyan.config import Settings
from hongyan.core import admin_push
from hongyan.core import customer_settings as customer_settings_module
from hongyan.core.admin import MAX_BALANCE, MAX_PARTS, Operator
from hongyan.core.audit import CUSTOMER_CONSOLE, Actor
from hongyan.core.customer_settings import CustomerSettings
from hongyan.core.finance import Finance, report_query
from hongyan.core.gates import Gatekeeper
from hongyan.core.operators import Operators
from hongyan.core.roles import CUSTOMER
from hongyan.core.sessions import ConsoleSessions
from hongyan.errors import Forbidden, InvalidInput
from hongyan.store import audit as audit_store
from hongyan.store import finance as finance_store
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.schema import accounts, console_sessions
from tests.conftest import create_customer

PASSWORD = "a good password"
CLI = Actor.cli()


async def audit_count(db: Database) -> int:
    return len(await db.read_sync(lambda conn: audit_store.search(conn, limit=10_000)))


async def viewing_sessions(db: Database, viewer: str) -> int:
    async with db.read() as conn:
        query = select(func.count()).select_from(console_sessions)
        return int(
            (await conn.execute(query.where(console_sessions.c.viewer == viewer))).scalar_one()
        )


async def _sessions(settings: Settings, db: Database) -> ConsoleSessions:
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    return ConsoleSessions(settings, db, gates)


# -- 1. a read-only view is refused by core ------------------------------------------


def test_an_actor_with_a_viewer_may_take_no_action() -> None:
    viewed = Actor.customer("acme", "192.0.2.9", viewer="alice")
    assert viewed.viewer == "alice" and Actor.customer("acme").viewer == ""
    for action in ("account.bind", "account.push", "account.password", "account.unbind"):
        Actor.customer("acme").require(action, account="acme")
        with pytest.raises(Forbidden, match="read-only"):
            viewed.require(action, account="acme")


async def test_the_customer_settings_of_a_read_only_view_change_nothing(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password=PASSWORD)
    uid = customer.uid
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    service = CustomerSettings(settings, db, gates)
    before, summary = await audit_count(db), await operator.show(uid)
    with pytest.raises(Forbidden):
        await service.bind(uid, "192.0.2.0/24", "192.0.2.9", viewer="alice")
    with pytest.raises(Forbidden):
        await service.set_push(
            uid,
            replies="",
            reports="",
            method="GET",
            secret=None,
            batch=False,
            viewer="alice",
        )
    with pytest.raises(Forbidden):
        await service.push_off(uid, viewer="alice")
    assert await operator.show(uid) == summary and await audit_count(db) == before
    # The customer's own session (no viewer) still may.
    assert await service.bind(uid, "192.0.2.0/24", "192.0.2.9") == "192.0.2.0/24"


async def test_a_read_only_view_cannot_change_the_password(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password=PASSWORD)
    sessions = await _sessions(settings, db)
    alice = Actor(name="alice", role="support", via="console", address="203.0.113.9")
    viewing = await sessions.start_viewing(alice, customer.uid)
    before = await audit_count(db)
    with pytest.raises(Forbidden):
        await sessions.change_password(viewing, PASSWORD, "another password", "203.0.113.9")
    assert await audit_count(db) == before
    assert await sessions.current(viewing.token) is not None  # nothing ended either


@pytest.mark.parametrize("change", ["disable", "password", "role"])
async def test_an_operators_views_end_with_its_access(
    settings: Settings, db: Database, operator: Operator, change: str
) -> None:
    ops = Operators(settings, db)
    await ops.create(CLI, "root", "admin", PASSWORD)
    sam = await ops.create(CLI, "sam", "support", PASSWORD)
    await ops.create(CLI, "kim", "support", PASSWORD)
    customer = await create_customer(operator)
    sessions = await _sessions(settings, db)
    as_sam = Actor(name="sam", role=sam.role, via="console", operator_id=sam.id)
    as_kim = Actor(name="kim", role="support", via="console")
    sams = await sessions.start_viewing(as_sam, customer.uid)
    kims = await sessions.start_viewing(as_kim, customer.uid)
    if change == "disable":
        await ops.disable(CLI, "sam")
    elif change == "password":
        await ops.set_password(CLI, "sam", "another password")
    else:
        await ops.set_role(CLI, "sam", "finance")
    assert await sessions.current(sams.token) is None
    assert await viewing_sessions(db, "sam") == 0
    assert await sessions.current(kims.token) is not None  # another operator's goes on


def loopback_push(settings: Settings) -> Settings:
    """Pushes to loopback allowed (no name to resolve)."""
    push = settings.push.model_copy(update={"allowed_networks": ("127.0.0.1/32",)})
    return settings.model_copy(update={"push": push})


# -- 3. a push change is made from the row under the lock ---------------------------


async def test_a_push_change_keeps_a_concurrent_change_and_audits_it(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = loopback_push(settings)
    admin = Operator(settings, db, actor=operator.actor)
    uid = (await create_customer(admin)).uid
    await admin.set_push(uid, replies="http://127.0.0.1:9/replies", reports="")
    customer = Operator(settings, db, actor=Actor.customer(uid, "192.0.2.9"))
    checked = admin_push.approved_addresses
    changed_meanwhile = False

    async def check_then_the_customer_changes(url: str, allowed: Any) -> Any:
        # The customer saves its reports URL after the operator's change read
        # the target and before its transaction.
        nonlocal changed_meanwhile
        found = await checked(url, allowed)
        if not changed_meanwhile:
            changed_meanwhile = True
            monkeypatch.setattr(admin_push, "approved_addresses", checked)
            await customer.set_push(uid, reports="http://127.0.0.1:9/reports")
        return found

    monkeypatch.setattr(admin_push, "approved_addresses", check_then_the_customer_changes)
    done = await admin.set_push(uid, method="POST")
    assert changed_meanwhile
    assert done is not None and done.reports_url == "http://127.0.0.1:9/reports"
    stored = await admin.push_target(uid)
    assert stored is not None and stored.method == "POST"
    assert stored.reports_url == "http://127.0.0.1:9/reports"  # not undone
    assert stored.replies_url == "http://127.0.0.1:9/replies"
    [entry] = await db.read_sync(lambda conn: audit_store.search(conn, limit=1))
    assert (entry.actor, entry.action) == (operator.actor.name, "account.push")
    assert entry.before == '{"method": "GET"}' and entry.after == '{"method": "POST"}'


async def test_a_signing_secret_can_be_removed(
    settings: Settings, db: Database, operator: Operator
) -> None:
    operator = Operator(loopback_push(settings), db, actor=operator.actor)
    uid = (await create_customer(operator)).uid
    await operator.set_push(uid, replies="http://127.0.0.1:9/r", secret="s" * 20)
    target = await operator.push_target(uid)
    assert target is not None and target.secret == "s" * 20
    await operator.set_push(uid, secret="")
    target = await operator.push_target(uid)
    assert target is not None and target.secret == "" and target.replies_url


# -- 4. money moves within bounds ---------------------------------------------------


@pytest.mark.parametrize("amount", [MAX_PARTS + 1, 2**63, 10**30])
async def test_a_topup_or_deduction_past_the_bound_is_refused(
    db: Database, operator: Operator, amount: int
) -> None:
    uid = (await create_customer(operator, balance=1000)).uid
    before = await audit_count(db)
    with pytest.raises(InvalidInput, match="parts"):
        await operator.topup(uid, amount, "a lot")
    with pytest.raises(InvalidInput, match="parts"):
        await operator.deduct(uid, amount, "a lot")
    assert (await operator.show(uid)).balance == 1000 and await audit_count(db) == before
    assert await operator.topup(uid, MAX_PARTS, "the most at once") == MAX_PARTS + 1000


async def test_a_balance_cannot_grow_past_its_bound(db: Database, operator: Operator) -> None:
    with pytest.raises(InvalidInput):
        await create_customer(operator, balance=MAX_BALANCE + 1)
    uid = (await create_customer(operator, balance=MAX_BALANCE - 5)).uid
    before = await audit_count(db)
    with pytest.raises(InvalidInput, match="at most"):
        await operator.topup(uid, 6, "one too many")
    assert (await operator.show(uid)).balance == MAX_BALANCE - 5
    assert await audit_count(db) == before
    assert await operator.topup(uid, 5, "up to the bound") == MAX_BALANCE


# -- 5. a concurrent duplicate account ------------------------------------------------


async def test_two_concurrent_creations_of_one_uid_make_one_account(
    db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both requests find no account before either makes it: each check waits
    # for the other's (the race, every time, not only when the timing allows).
    checked = Operator.exists
    both_checked = asyncio.Event()
    checks: list[bool] = []

    async def exists_then_wait(self: Operator, uid: str) -> bool:
        found = await checked(self, uid)
        checks.append(found)
        if len(checks) == 2:
            both_checked.set()
        await asyncio.wait_for(both_checked.wait(), 30)
        return found

    monkeypatch.setattr(Operator, "exists", exists_then_wait)
    before = await audit_count(db)
    results = await asyncio.gather(
        operator.create_account("twin", "pw-one"),
        operator.create_account("twin", "pw-two"),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert checks == [False, False]
    assert len(made) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], InvalidInput) and "already exists" in str(refused[0])
    async with db.read() as conn:
        query = select(func.count()).select_from(accounts).where(accounts.c.uid == "twin")
        assert (await conn.execute(query)).scalar_one() == 1
    assert await audit_count(db) == before + 1


# -- 6. the finance page's rows and totals, in one read ---------------------------------


async def test_the_finance_page_reads_rows_and_totals_in_one_transaction(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = (await create_customer(operator, balance=500)).uid
    seen: list[Connection] = []
    for name in ("report_chunk", "totals"):
        read = getattr(finance_store, name)

        def spy(conn: Connection, *args: Any, _read: Any = read, **kwargs: Any) -> Any:
            # The totals are read in the transaction the rows' read began.
            assert conn.in_transaction() == bool(seen)
            seen.append(conn)
            return _read(conn, *args, **kwargs)

        monkeypatch.setattr(finance_store, name, spy)
    finance = Finance(db, ZoneInfo("Asia/Shanghai"))
    query = report_query(finance.zone, now_ms(), uid=uid)
    page = await finance.page(query)
    assert [r.uid for r in page.rows] == [uid] and page.totals.topped_up == 500
    assert len(seen) == 2 and seen[0] is seen[1]


# -- 8. the customer's settings act as the customer ----------------------------------


async def test_the_customer_settings_never_act_as_the_platform(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = (await create_customer(operator)).uid
    actors: list[Actor] = []

    class Watched(Operator):
        def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
            actors.append(actor)
            super().__init__(*args, actor=actor, **kwargs)

    monkeypatch.setattr(customer_settings_module, "Operator", Watched)
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    service = CustomerSettings(settings, db, gates)
    summary = await service.summary(uid)
    service.limits(summary)
    await service.push_target(uid)
    await service.preview(uid, "192.0.2.0/24", adding=True)
    await service.bind(uid, "192.0.2.0/24", "192.0.2.9")
    assert actors
    assert {(a.name, a.role, a.via) for a in actors} == {(uid, CUSTOMER, CUSTOMER_CONSOLE)}
