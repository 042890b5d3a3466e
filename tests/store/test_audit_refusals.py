"""A refused operator action (bad input, or a role that lacks it) writes no
audit entry and changes nothing; support freezes, finance tops up, and a
customer acts on its own account only (issue 15 items 1 and 6)."""

from __future__ import annotations

import pytest

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import CONSOLE, Actor
from hongyan.core.roles import FINANCE, SUPPORT
from hongyan.core.states import OutboxKind
from hongyan.errors import Forbidden, InvalidInput, NotFound
from hongyan.store import system
from hongyan.store.database import Database
from tests.conftest import create_customer
from tests.store.test_audit_actions import (
    ALICE,
    Step,
    audited_settings,
    database,
    entries,
    operator_as,
)

__all__ = ["audited_settings", "database"]  # fixtures, shared with test_audit_actions

# -- refused: nothing changes, no entry ---------------------------------------------

BAD: list[tuple[str, Step, type[Exception]]] = [
    ("create-exists", lambda op, uid: op.create_account(uid, "pw"), InvalidInput),
    ("topup-zero", lambda op, uid: op.topup(uid, 0, "n"), InvalidInput),
    ("topup-no-note", lambda op, uid: op.topup(uid, 5, "  "), InvalidInput),
    ("topup-nobody", lambda op, uid: op.topup("nobody", 5, "n"), NotFound),
    ("deduct-too-much", lambda op, uid: op.deduct(uid, 1001, "n"), InvalidInput),
    ("deduct-no-note", lambda op, uid: op.deduct(uid, 1, ""), InvalidInput),
    ("freeze-nobody", lambda op, uid: op.set_frozen("nobody", True), NotFound),
    ("api-send-nobody", lambda op, uid: op.set_api_send("nobody", False), NotFound),
    ("refund-nobody", lambda op, uid: op.set_refund("nobody", True), NotFound),
    ("limits", lambda op, uid: op.set_limits(uid, per_number="often"), InvalidInput),
    ("extension-letters", lambda op, uid: op.set_extension(uid, "12a"), InvalidInput),
    ("extension-collides", lambda op, uid: op.set_extension(uid, "000"), InvalidInput),
    ("dialect", lambda op, uid: op.access.set_dialect(uid, "odd"), InvalidInput),
    ("bare-md5-standard", lambda op, uid: op.access.set_bare_md5(uid, True, "x"), InvalidInput),
    ("push-method", lambda op, uid: op.set_push(uid, method="PUT"), InvalidInput),
    ("push-short-secret", lambda op, uid: op.set_push(uid, secret="short"), InvalidInput),
    ("push-off-nobody", lambda op, uid: op.push_off("nobody"), NotFound),
    ("bind", lambda op, uid: op.bind_address(uid, "999.1.1.1"), InvalidInput),
    ("unbind-unbound", lambda op, uid: op.unbind_address(uid, "10.0.0.1"), NotFound),
    ("password-empty", lambda op, uid: op.access.set_password(uid, ""), InvalidInput),
    ("unlock-bad-ip", lambda op, uid: op.access.unlock(uid, "not-an-ip"), InvalidInput),
    ("retire-current", lambda op, uid: op.access.retire_key(1), InvalidInput),
    ("switch-unknown", lambda op, uid: op.set_switch("everything", True), InvalidInput),
    ("keyword-empty", lambda op, uid: op.add_keyword("  "), InvalidInput),
    ("keyword-missing", lambda op, uid: op.remove_keyword("never"), NotFound),
    ("inject-bad-mobile", lambda op, uid: op.inject_reply("12", "x", uid=uid), InvalidInput),
    ("push-test-no-url", lambda op, uid: op.test_push(uid, OutboxKind.REPLY), InvalidInput),
]


async def state(op: Operator, uid: str) -> tuple[object, ...]:
    """What an action could change: the account, its push, the switches, keywords, keys."""
    return (
        await op.show(uid),
        await op.push_target(uid),
        await op.switches(),
        await op.keywords(),
        (await op.access.key_status()).versions,
        await op.access.locks(uid),
    )


@pytest.mark.parametrize("bad", BAD, ids=[name for name, _, _ in BAD])
async def test_bad_input_writes_no_entry_and_changes_nothing(
    audited_settings: Settings,
    database: Database,
    bad: tuple[str, Step, type[Exception]],
) -> None:
    _, perform, error = bad
    op = operator_as(audited_settings, database, ALICE)
    await create_customer(op)  # extension 0001, in the way of "000"
    customer = await create_customer(op)
    was, earlier = await state(op, customer.uid), await entries(database)
    with pytest.raises(error):
        await perform(op, customer.uid)
    assert await state(op, customer.uid) == was
    assert await entries(database) == earlier


# -- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "action", "perform"),
    [
        (SUPPORT, "account.topup", lambda op, uid: op.topup(uid, 5, "n")),
        (SUPPORT, "account.deduct", lambda op, uid: op.deduct(uid, 5, "n")),
        (SUPPORT, "account.limits", lambda op, uid: op.set_limits(uid, rate="9")),
        (SUPPORT, "account.password", lambda op, uid: op.access.set_password(uid, "pw")),
        (FINANCE, "account.freeze", lambda op, uid: op.set_frozen(uid, True)),
        (FINANCE, "account.unlock", lambda op, uid: op.access.unlock(uid)),
        (FINANCE, "system.switch", lambda op, uid: op.set_switch(system.PAUSED, True)),
        (FINANCE, "keyword.add", lambda op, uid: op.add_keyword("x")),
        (FINANCE, "account.rekey", lambda op, uid: op.access.rotate_key()),
        (FINANCE, "push.test", lambda op, uid: op.test_push(uid, OutboxKind.REPORT)),
        (FINANCE, "mo.inject", lambda op, uid: op.inject_reply("13900008888", "x", uid=uid)),
    ],
)
async def test_a_role_without_the_action_is_forbidden_and_nothing_changes(
    audited_settings: Settings, database: Database, role: str, action: str, perform: Step
) -> None:
    admin = operator_as(audited_settings, database, ALICE)
    customer = await create_customer(admin)
    op = operator_as(audited_settings, database, Actor("sam", role, CONSOLE, "192.0.2.1"))
    was, earlier = await state(admin, customer.uid), await entries(database)
    with pytest.raises(Forbidden, match=f"the {role} role does not allow {action}"):
        await perform(op, customer.uid)
    assert await state(admin, customer.uid) == was
    assert await entries(database) == earlier


async def test_support_freezes_and_finance_tops_up(
    audited_settings: Settings, database: Database
) -> None:
    admin = operator_as(audited_settings, database, ALICE)
    customer = await create_customer(admin)
    support = operator_as(audited_settings, database, Actor("sue", SUPPORT, CONSOLE, "192.0.2.2"))
    finance = operator_as(audited_settings, database, Actor("fay", FINANCE, CONSOLE, "192.0.2.3"))
    await support.set_frozen(customer.uid, True)
    await support.access.unlock(customer.uid)
    assert await finance.topup(customer.uid, 5, "wire") == 1005
    latest = await entries(database)
    assert [(e.actor, e.action) for e in latest[:3]] == [
        ("fay", "account.topup"),
        ("sue", "account.unlock"),
        ("sue", "account.freeze"),
    ]
    assert (await admin.show(customer.uid)).frozen


async def test_a_customer_changes_its_own_account_only(
    audited_settings: Settings, database: Database
) -> None:
    admin = operator_as(audited_settings, database, ALICE)
    mine, theirs = await create_customer(admin), await create_customer(admin)
    me = operator_as(audited_settings, database, Actor.customer(mine.uid, "192.0.2.9"))
    await me.bind_address(mine.uid, "192.0.2.0/24")
    entry = (await entries(database))[0]
    assert (entry.actor, entry.via, entry.address, entry.action) == (
        mine.uid,
        "customer",
        "192.0.2.9",
        "account.bind",
    )
    earlier = await entries(database)
    with pytest.raises(Forbidden):
        await me.bind_address(theirs.uid, "192.0.2.0/24")
    with pytest.raises(Forbidden):
        await me.topup(mine.uid, 5, "free parts")
    assert (await admin.show(theirs.uid)).networks == ()
    assert await entries(database) == earlier
