"""Operators and their sessions on SQLite and PostgreSQL: each action with its one
audit entry (also when nothing changes; none when refused), the last admin kept
(also against a parallel change), sign-in counting and locks (parallel attempts
each count, a window ends), session timeouts, a disabled operator's sessions
ending, a TOTP code good once, Argon2 off the loop and a few at a time."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from hongyan.config import Settings
from hongyan.core import operator_passwords
from hongyan.core.audit import Actor
from hongyan.core.credentials import console_password_matches
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
    # Nothing to change: still one entry each, before and after the same.
    for unchanged in (
        ops.enable(CLI, "sam"),
        ops.reset_totp(CLI, "sam"),
        ops.set_role(CLI, "sam", "finance"),
    ):
        before = await audit_count(db)
        await unchanged
        assert await audit_count(db) == before + 1
    await ops.disable(CLI, "sam")
    before = await audit_count(db)
    await ops.disable(CLI, "sam")
    assert await audit_count(db) == before + 1
    await ops.enable(CLI, "sam")
    async with db.read() as conn:
        last = await conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(3))
        entries = [(e.action, json.loads(e.before), json.loads(e.after)) for e in last][::-1]
    assert entries == [
        ("operator.disable", {"disabled": False}, {"disabled": True}),
        ("operator.disable", {"disabled": True}, {"disabled": True}),
        (
            "operator.enable",
            {"disabled": True, "locked": False},
            {"disabled": False, "locked": False},
        ),
    ]
    before = await audit_count(db)
    # Bad input, a role without the right: no entry.
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


async def test_totp_is_on_only_after_a_right_code_and_the_password(
    settings: Settings, db: Database
) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    made = await sessions.operators.create(CLI, "tia", "support", PASSWORD)
    me = Actor("tia", "support", "console", "192.0.2.1", made.id)
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).at(clock() // 1000)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidInput, match="code"):
        await sessions.operators.enable_totp(me, PASSWORD, secret, wrong)
    # A right code without the operator's password (a session left open) is not enough,
    # and the wrong password counts toward the operator's lock.
    before = await audit_count(db)
    with pytest.raises(InvalidInput, match="password"):
        await sessions.operators.enable_totp(me, "not-the-password", secret, code)
    assert await audit_count(db) == before
    assert (await sessions.operators.get("tia")).failures == 1
    assert not (await sessions.operators.get("tia")).totp_on
    assert (await sessions.operators.enable_totp(me, PASSWORD, secret, code)).totp_on
    with pytest.raises(SignInRefused):
        await sessions.sign_in("tia", PASSWORD, "", "192.0.2.1")
    # A code of the next step (within the window): the one used to turn it on is spent.
    next_code = pyotp.TOTP(secret).at(clock() // 1000 + 30)
    session = await sessions.sign_in("tia", PASSWORD, next_code, "192.0.2.1")
    assert session.totp_on
    # A code is good one step either side of its own, and no further.
    now_s = clock() / 1000
    assert totp_matches(secret, pyotp.TOTP(secret).at(now_s - 30), now_s)
    assert not totp_matches(secret, pyotp.TOTP(secret).at(now_s - 90), now_s)
    with pytest.raises(InvalidInput, match="already"):
        await sessions.operators.enable_totp(me, PASSWORD, secret, code)
    # The CLI's actor is nobody's own second factor.
    with pytest.raises(InvalidInput):
        await sessions.operators.enable_totp(CLI, PASSWORD, secret, code)


async def test_a_totp_code_signs_in_once(settings: Settings, db: Database) -> None:
    """RFC 6238 §5.2: a code seen (over a shoulder, by a phishing page) is no good
    once used, neither after its sign-in nor beside it."""
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    made = await sessions.operators.create(CLI, "uma", "support", PASSWORD)
    me = Actor("uma", "support", "console", "192.0.2.1", made.id)
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    await sessions.operators.enable_totp(me, PASSWORD, secret, totp.at(clock() // 1000))
    with pytest.raises(SignInRefused):  # the code that turned it on
        await sessions.sign_in("uma", PASSWORD, totp.at(clock() // 1000), "192.0.2.1")
    clock.advance(30_000)
    code = totp.at(clock() // 1000)
    await sessions.sign_in("uma", PASSWORD, code, "192.0.2.1")
    with pytest.raises(SignInRefused):
        await sessions.sign_in("uma", PASSWORD, code, "192.0.2.2")
    with pytest.raises(SignInRefused):  # an older step, still in the window: refused too
        await sessions.sign_in("uma", PASSWORD, totp.at(clock() // 1000 - 30), "192.0.2.2")
    # Two sign-ins with one fresh code at once: one session.
    clock.advance(30_000)
    code = totp.at(clock() // 1000)
    both = await asyncio.gather(
        sessions.sign_in("uma", PASSWORD, code, "192.0.2.3"),
        sessions.sign_in("uma", PASSWORD, code, "192.0.2.4"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in both) == ["OperatorSession", "SignInRefused"]


async def test_parallel_wrong_sign_ins_each_count(settings: Settings, db: Database) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    await sessions.operators.create(CLI, "vic", "admin", PASSWORD)
    limit = settings.admin.lockout_failures

    async def wrong(n: int) -> None:
        with pytest.raises(SignInRefused):
            await sessions.sign_in("vic", f"wrong-{n}", "", f"192.0.2.{n + 1}")

    await asyncio.gather(*(wrong(n) for n in range(limit - 1)))
    record = await sessions.operators.get("vic")
    assert (record.failures, record.locked_until) == (limit - 1, 0)
    await asyncio.gather(*(wrong(n) for n in range(limit)))
    record = await sessions.operators.get("vic")
    assert record.locked_until == clock() + settings.admin.lockout_s * 1000
    with pytest.raises(SignInRefused):
        await sessions.sign_in("vic", PASSWORD, "", "192.0.2.200")


async def test_failures_of_an_operator_end_with_their_window(
    settings: Settings, db: Database
) -> None:
    clock = ControlledClock(held=True)
    sessions = OperatorSessions(settings, db, clock)
    await sessions.operators.create(CLI, "wes", "support", PASSWORD)
    limit, window_ms = settings.admin.lockout_failures, settings.admin.lockout_window_s * 1000
    for n in range(limit - 1):
        with pytest.raises(SignInRefused):
            await sessions.sign_in("wes", "wrong-password", "", f"192.0.2.{n + 1}")
    clock.advance(window_ms + 1)
    # Past the window: a new count, not the last of the old one.
    with pytest.raises(SignInRefused):
        await sessions.sign_in("wes", "wrong-password", "", "192.0.2.100")
    record = await sessions.operators.get("wes")
    assert (record.failures, record.locked_until) == (1, 0)
    assert (await sessions.sign_in("wes", PASSWORD, "", "192.0.2.100")).name == "wes"


async def test_a_locked_address_is_refused_before_any_argon2_check(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 3
    admin = settings.admin.model_copy(update={"address_failures": limit, "lockout_failures": 50})
    sessions = OperatorSessions(settings.model_copy(update={"admin": admin}), db)
    await sessions.operators.create(CLI, "xan", "support", PASSWORD)
    checks: list[str] = []

    def counted(stored_hash: str, password: str) -> bool:
        checks.append(password)
        return console_password_matches(stored_hash, password)

    monkeypatch.setattr(operator_passwords, "console_password_matches", counted)
    # Parallel attempts from one address: each counts before any is checked, so
    # the right password among them, past the limit, is refused unchecked.
    attempts = [f"wrong-{n}" for n in range(2 * limit - 1)] + [PASSWORD]
    answers = await asyncio.gather(
        *(sessions.sign_in("xan", p, "", "203.0.113.9") for p in attempts),
        return_exceptions=True,
    )
    assert all(isinstance(a, SignInRefused) for a in answers)
    assert sorted(checks) == attempts[:limit]
    with pytest.raises(SignInRefused):
        await sessions.sign_in("xan", PASSWORD, "", "203.0.113.9")
    assert len(checks) == limit
    # Elsewhere, the password signs in (and a success is no failure of its address).
    for _ in range(limit + 1):
        await sessions.sign_in("xan", PASSWORD, "", "203.0.113.10")


async def test_argon2_checks_run_off_the_loop_two_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def held(stored_hash: str, password: str) -> bool:
        threads.append(threading.get_ident())
        return release.wait(timeout=60)

    started: list[object] = []
    real_to_thread = asyncio.to_thread

    async def counted_to_thread(func: Any, /, *args: Any) -> Any:
        started.append(func)
        return await real_to_thread(func, *args)

    monkeypatch.setattr(operator_passwords, "console_password_matches", held)
    monkeypatch.setattr(asyncio, "to_thread", counted_to_thread)
    checks = [asyncio.create_task(operator_passwords.password_matches("h", "p")) for _ in range(6)]
    await asyncio.sleep(0)  # every task has run up to its first wait
    assert len(started) == operator_passwords.ARGON2_AT_ONCE == 2
    release.set()
    assert await asyncio.gather(*checks) == [True] * 6
    assert len(started) == 6 and loop_thread not in threads


async def test_two_admins_taken_away_at_once_leave_one(settings: Settings, db: Database) -> None:
    """Each change sees the other admin, unless the admins' rows are locked
    (PostgreSQL runs the two transactions side by side)."""
    ops = Operators(settings, db)
    await ops.create(CLI, "ada", "admin", PASSWORD)
    await ops.create(CLI, "bea", "admin", PASSWORD)

    async def active_admins() -> list[str]:
        return [r.name for r in await ops.list() if r.role == "admin" and not r.disabled]

    for first, second in (
        (ops.disable(CLI, "ada"), ops.disable(CLI, "bea")),
        (ops.set_role(CLI, "ada", "support"), ops.set_role(CLI, "bea", "support")),
    ):
        answers = await asyncio.gather(first, second, return_exceptions=True)
        refused = [a for a in answers if isinstance(a, BaseException)]
        assert len(refused) == 1 and "last enabled admin" in str(refused[0])
        assert len(await active_admins()) == 1
        for name in ("ada", "bea"):  # both admins again, for the next pair
            await ops.enable(CLI, name)
            await ops.set_role(CLI, name, "admin")
        assert len(await active_admins()) == 2
