"""Console sessions (core/sessions.py) on SQLite and PostgreSQL: how they
start, what ends them, and that a console guess counts like an API guess."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.credentials import api_password
from hongyan.core.delivery import Housekeeper
from hongyan.core.gates import Gatekeeper
from hongyan.core.sessions import ConsoleSessions, check_new_password
from hongyan.errors import InvalidInput, Rejected
from hongyan.protocol.stat import Stat
from hongyan.store.database import Database
from hongyan.store.schema import console_sessions
from tests.clock import ControlledClock
from tests.conftest import create_customer

ADDRESS = "203.0.113.9"


async def _sessions(settings: Settings, db: Database, clock: ControlledClock) -> ConsoleSessions:
    gates = Gatekeeper(settings, db, clock)
    await gates.refresh()
    return ConsoleSessions(settings, db, gates, clock)


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(console_sessions))).scalar_one()
        )


async def test_sign_in_makes_a_new_session_each_time(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password="a good password")
    sessions = await _sessions(settings, db, ControlledClock(held=True))
    first, account = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    second, _ = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    assert account.uid == customer.uid
    assert first.token != second.token and first.csrf != second.csrf
    found = await sessions.current(first.token)
    assert found is not None and found.uid == customer.uid and found.csrf == first.csrf
    assert await sessions.current("not a token") is None
    await sessions.sign_out(first.token)
    assert await sessions.current(first.token) is None
    assert await sessions.current(second.token) is not None


async def test_a_session_ends_when_idle_and_at_its_age(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password="a good password")
    clock = ControlledClock(held=True)
    sessions = await _sessions(settings, db, clock)
    idle_ms = settings.console.idle_timeout_s * 1000
    session, _ = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    # Used every little while, it lives on ...
    for _ in range(3):
        clock.advance(idle_ms - 1000)
        assert await sessions.current(session.token) is not None
    # ... until it has gone unused for the idle timeout.
    clock.advance(idle_ms + 1)
    assert await sessions.current(session.token) is None
    assert await _count(db) == 0
    # However busy, it ends max_age_s after sign-in.
    session, _ = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    for _ in range(settings.console.max_age_s * 1000 // (idle_ms - 1000)):
        clock.advance(idle_ms - 1000)
        await sessions.current(session.token)
    clock.advance(idle_ms - 1000)
    assert await sessions.current(session.token) is None


async def test_the_housekeeper_deletes_sessions_past_their_timeouts(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password="a good password")
    clock = ControlledClock(held=True)
    sessions = await _sessions(settings, db, clock)
    await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    clock.advance(settings.console.idle_timeout_s * 1000 // 2)
    await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    clock.advance(settings.console.idle_timeout_s * 1000 // 2 + 1)
    await Housekeeper(settings, db, clock).run_once()
    assert await _count(db) == 1  # the older one was idle too long


async def test_a_password_change_ends_every_session_and_changes_the_api_pwd(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password="a good password")
    clock = ControlledClock(held=True)
    sessions = await _sessions(settings, db, clock)
    here, _ = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    elsewhere, _ = await sessions.sign_in(customer.uid, "a good password", "198.51.100.1")
    with pytest.raises(Rejected) as wrong:
        await sessions.change_password(here, "not the password", "a new password", ADDRESS)
    assert wrong.value.stat == Stat.AUTH_FAILED
    with pytest.raises(InvalidInput):
        await sessions.change_password(here, "a good password", "short", ADDRESS)
    renewed = await sessions.change_password(here, "a good password", "a new password", ADDRESS)
    assert await sessions.current(here.token) is None
    assert await sessions.current(elsewhere.token) is None
    assert await sessions.current(renewed.token) is not None
    gates = Gatekeeper(settings, db, clock)
    await gates.refresh()
    new_pwd = api_password("a new password", customer.uid)
    assert (await gates.admit(customer.uid, new_pwd, ADDRESS, sending=False)).uid == customer.uid
    with pytest.raises(Rejected):
        await gates.admit(customer.uid, customer.pwd, ADDRESS, sending=False)


async def test_console_guesses_count_with_api_guesses(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator, password="a good password")
    clock = ControlledClock(held=True)
    sessions = await _sessions(settings, db, clock)
    gates = sessions._gates
    for _ in range(settings.lockout_failures - 1):
        with pytest.raises(Rejected) as refused:
            await sessions.sign_in(customer.uid, "guess", ADDRESS)
        assert refused.value.stat == Stat.AUTH_FAILED
    with pytest.raises(Rejected):  # the fifth guess, at the API
        await gates.admit(customer.uid, "0" * 32, ADDRESS, sending=False)
    with pytest.raises(Rejected) as locked:
        await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    assert locked.value.stat == Stat.ACCOUNT_LOCKED
    # Another client is not locked out; an unknown uid is refused like a wrong password.
    assert (await sessions.sign_in(customer.uid, "a good password", "198.51.100.1"))[0]
    with pytest.raises(Rejected) as unknown:
        await sessions.sign_in("nobody-has-this-uid", "a good password", ADDRESS)
    assert unknown.value.stat == Stat.AUTH_FAILED


def test_a_chosen_password_is_long_enough_and_not_the_uid() -> None:
    check_new_password("a good password", "demo")
    for bad in ("short", " padded password ", "DemoDemo"):
        with pytest.raises(InvalidInput):
            check_new_password(bad, "demodemo")


async def test_wrong_current_passwords_lock_the_password_change_too(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """A session someone else holds cannot try current passwords without limit."""
    customer = await create_customer(operator, password="a good password")
    sessions = await _sessions(settings, db, ControlledClock(held=True))
    here, _ = await sessions.sign_in(customer.uid, "a good password", ADDRESS)
    for _ in range(settings.lockout_failures):
        with pytest.raises(Rejected) as wrong:
            await sessions.change_password(here, "a guess", "a new password", ADDRESS)
        assert wrong.value.stat == Stat.AUTH_FAILED
    with pytest.raises(Rejected) as locked:
        await sessions.change_password(here, "a good password", "a new password", ADDRESS)
    assert locked.value.stat == Stat.ACCOUNT_LOCKED
    with pytest.raises(Rejected) as api:
        await sessions._gates.admit(customer.uid, customer.pwd, ADDRESS, sending=False)
    assert api.value.stat == Stat.ACCOUNT_LOCKED
