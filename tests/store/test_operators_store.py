"""Operators and their sessions on SQLite and PostgreSQL: each change with its one
audit entry (and none when refused), the last admin kept, sign-in counting and
locks, session timeouts, a disabled operator's sessions ending."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select

from hongyan.config import Settings
from hongyan.core.audit import Actor
from hongyan.core.operator_sessions import OperatorSessions, SignInRefused
from hongyan.core.operators import Operators, totp_matches
from hongyan.errors import Forbidden, InvalidInput, NotFound
from hongyan.store.database import Database
from hongyan.store.schema import audit_log, operator_sessions
from tests.clock import ControlledClock

CLI = Actor.cli()
PASSWORD = "a-long-password"


async def audit_count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_log))).scalar_one())


async def session_count(db: Database) -> int:
    async with db.read() as conn:
        query = select(func.count()).select_from(operator_sessions)
        return int((await conn.execute(query)).scalar_one())


async def test_changes_write_one_entry_each_and_refusals_none(
    settings: Settings, db: Database
) -> None:
    ops = Operators(settings, db)
    await ops.create(CLI, "root", "admin", PASSWORD)
    made = await ops.create(CLI, "sam", "support", PASSWORD)
    assert (made.role, made.disabled, made.totp_on) == ("support", False, False)
    assert await audit_count(db) == 2
    for change in (
        ops.set_role(CLI, "sam", "finance"),
        ops.disable(CLI, "sam"),
        ops.enable(CLI, "sam"),
        ops.set_password(CLI, "sam", "another-password"),
    ):
        before = await audit_count(db)
        await change
        assert await audit_count(db) == before + 1
    before = await audit_count(db)
    # Nothing to change: no entry. Bad input, a role without the right: none either.
    await ops.enable(CLI, "sam")
    await ops.reset_totp(CLI, "sam")
    with pytest.raises(InvalidInput):
        await ops.create(CLI, "sam", "support", PASSWORD)  # exists
    with pytest.raises(InvalidInput):
        await ops.create(CLI, "bad name", "support", PASSWORD)
    with pytest.raises(InvalidInput):
        await ops.create(CLI, "short", "support", "2short")
    with pytest.raises(InvalidInput):
        await ops.set_role(CLI, "sam", "owner")
    with pytest.raises(NotFound):
        await ops.disable(CLI, "nobody")
    support = Actor("sam", "support", "console", "10.0.0.1", made.id)
    with pytest.raises(Forbidden):
        await ops.create(support, "eve", "admin", PASSWORD)
    with pytest.raises(Forbidden):
        await ops.set_role(support, "sam", "admin")
    with pytest.raises(Forbidden):
        await ops.set_password(support, "root", "taken-over-now")
    # The last enabled admin stays one.
    with pytest.raises(InvalidInput, match="last enabled admin"):
        await ops.disable(CLI, "root")
    with pytest.raises(InvalidInput, match="last enabled admin"):
        await ops.set_role(CLI, "root", "support")
    assert await audit_count(db) == before
    assert (await ops.get("sam")).role == "finance"
    # An operator may set their own password whatever the role.
    await ops.set_password(support, "sam", "my-own-password")
    assert await audit_count(db) == before + 1


async def test_sign_in_counts_failures_and_locks(settings: Settings, db: Database) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    await sessions.operators.create(CLI, "ann", "admin", PASSWORD)
    for _ in range(settings.admin.lockout_failures):
        with pytest.raises(SignInRefused):
            await sessions.sign_in("ann", "wrong-password", "", "192.0.2.1")
    locked = await sessions.operators.get("ann")
    assert locked.locked_until == clock() + settings.admin.lockout_s * 1000
    with pytest.raises(SignInRefused):
        await sessions.sign_in("ann", PASSWORD, "", "192.0.2.2")
    clock.advance(settings.admin.lockout_s * 1000 + 1)
    session = await sessions.sign_in("ann", PASSWORD, "", "192.0.2.2")
    assert (session.name, session.role) == ("ann", "admin")
    record = await sessions.operators.get("ann")
    assert record.failures == 0 and record.signed_in_at == clock()
    with pytest.raises(SignInRefused):
        await sessions.sign_in("nobody", PASSWORD, "", "192.0.2.3")


async def test_sessions_time_out_and_end_with_a_disabled_operator(
    settings: Settings, db: Database
) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    await sessions.operators.create(CLI, "root", "admin", PASSWORD)
    await sessions.operators.create(CLI, "bo", "finance", PASSWORD)
    first = await sessions.sign_in("bo", PASSWORD, "", "192.0.2.1")
    second = await sessions.sign_in("bo", PASSWORD, "", "192.0.2.1")
    assert first.token != second.token and first.csrf != second.csrf
    assert await sessions.current(first.token) == first
    # Idle: a request within the idle timeout keeps a session; past it, it ends.
    idle_ms = settings.admin.idle_timeout_s * 1000
    clock.advance(idle_ms - 1000)
    assert await sessions.current(first.token) is not None
    clock.advance(idle_ms - 1000)
    assert await sessions.current(first.token) is not None
    assert await sessions.current(second.token) is None  # not used for longer than that
    # A role change is in force at the next request.
    await sessions.operators.set_role(CLI, "bo", "support")
    current = await sessions.current(first.token)
    assert current is not None and current.role == "support"
    await sessions.operators.disable(CLI, "bo")
    assert await sessions.current(first.token) is None
    assert await session_count(db) == 0
    with pytest.raises(SignInRefused):
        await sessions.sign_in("bo", PASSWORD, "", "192.0.2.1")
    # Absolute: max_age after sign-in, however busy.
    third = await sessions.sign_in("root", PASSWORD, "", "192.0.2.1")
    for _ in range(settings.admin.max_age_s // settings.admin.idle_timeout_s + 1):
        clock.advance(idle_ms - 1000)
        found = await sessions.current(third.token)
    assert found is None


async def test_totp_is_on_only_after_a_right_code(settings: Settings, db: Database) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    made = await sessions.operators.create(CLI, "tia", "support", PASSWORD)
    me = Actor("tia", "support", "console", "192.0.2.1", made.id)
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).at(clock() // 1000)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidInput):
        await sessions.operators.enable_totp(me, secret, wrong)
    assert not (await sessions.operators.get("tia")).totp_on
    assert (await sessions.operators.enable_totp(me, secret, code)).totp_on
    with pytest.raises(SignInRefused):
        await sessions.sign_in("tia", PASSWORD, "", "192.0.2.1")
    session = await sessions.sign_in("tia", PASSWORD, code, "192.0.2.1")
    assert session.totp_on
    # A code is good one step either side of its own, and no further.
    now_s = clock() / 1000
    assert totp_matches(secret, pyotp.TOTP(secret).at(now_s - 30), now_s)
    assert not totp_matches(secret, pyotp.TOTP(secret).at(now_s - 90), now_s)
    with pytest.raises(InvalidInput, match="already"):
        await sessions.operators.enable_totp(me, secret, code)
    # The CLI's actor is nobody's own second factor.
    with pytest.raises(InvalidInput):
        await sessions.operators.enable_totp(CLI, secret, code)
