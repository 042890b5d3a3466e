"""Access on SQLite and PostgreSQL: the uid bound, versioned server keys and
re-keying, password changes, the legacy md5-without-uid option, lockouts by
/64 and lifting them, and migration 0008 keeping existing accounts working."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.credentials import (
    api_key_digest,
    api_password,
    bare_md5,
    console_hash,
    console_password_matches,
    parse_keyring,
)
from hongyan.core.gates import Gatekeeper
from hongyan.errors import InvalidInput, Rejected
from hongyan.protocol.dialect import Dialect
from hongyan.protocol.stat import Stat
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade
from hongyan.store.schema import accounts, auth_failures
from tests.conftest import _reset_postgres, create_customer, make_settings, on_database


async def gates_for(settings: Settings, db: Database) -> Gatekeeper:
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    return gates


async def stat_of(gates: Gatekeeper, uid: str, pwd: str, address: str = "192.0.2.1") -> Stat:
    try:
        await gates.admit(uid, pwd, address, sending=True)
    except Rejected as exc:
        return exc.stat
    return Stat.OK


async def failure_rows(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(auth_failures))).one()[0])


async def key_versions(db: Database, uid: str) -> tuple[int, int | None]:
    async with db.read() as conn:
        row = await conn.execute(
            select(accounts.c.key_version, accounts.c.bare_md5_key_version).where(
                accounts.c.uid == uid
            )
        )
        version, bare = row.one()
    return version, bare


# -- the uid bound (issue 11 item 1) ---------------------------------------------------


async def test_a_uid_longer_than_the_schema_is_refused_unlooked_up_uncached_unrecorded(
    settings: Settings, db: Database, operator: Operator
) -> None:
    gates = await gates_for(settings, db)
    exact = await create_customer(operator, uid="u" * 64)
    too_long = exact.uid + "x"
    for _ in range(settings.lockout_failures + 2):
        assert await stat_of(gates, too_long, exact.pwd) == Stat.AUTH_FAILED
        assert await stat_of(gates, "v" * 100_000, exact.pwd) == Stat.AUTH_FAILED
    assert gates.cached_accounts == 0
    assert await failure_rows(db) == 0
    # Its 64-character prefix, a real account, was never counted against.
    await gates.refresh()
    assert await stat_of(gates, exact.uid, exact.pwd) == Stat.OK


async def test_unknown_uids_are_not_cached_known_ones_are(
    settings: Settings, db: Database, operator: Operator
) -> None:
    gates = await gates_for(settings, db)
    for i in range(50):
        assert await stat_of(gates, f"nobody{i}", "0" * 32, f"192.0.2.{i}") == Stat.AUTH_FAILED
    assert gates.cached_accounts == 0
    customer = await create_customer(operator)
    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd) == Stat.OK
    assert gates.cached_accounts == 1


# -- server key rotation (issue 11 item 7) ---------------------------------------------


async def test_a_ring_with_a_newer_key_authenticates_old_digests_and_rekeys_them(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """Accounts made under key 1 still get in under the ring 1+2, and their digest
    moves to key 2 at the first success; a failed attempt moves nothing."""
    old = settings.model_copy(update={"secret": "1:first-key"})
    rotated = settings.model_copy(update={"secret": "1:first-key,2:second-key"})
    made_before = await create_customer(Operator(old, db, actor=Actor.cli()))
    other = await create_customer(Operator(old, db, actor=Actor.cli()))
    gates = await gates_for(rotated, db)

    assert await stat_of(gates, other.uid, api_password("wrong", other.uid)) == Stat.AUTH_FAILED
    assert await key_versions(db, other.uid) == (1, None)
    assert await stat_of(gates, made_before.uid, made_before.pwd) == Stat.OK
    assert await key_versions(db, made_before.uid) == (2, None)
    async with db.read() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.api_key_digest).where(accounts.c.uid == made_before.uid)
            )
        ).scalar_one()
    assert stored == api_key_digest("second-key", made_before.pwd)
    # Still in, on the new key, in this process and in a fresh one.
    assert await stat_of(gates, made_before.uid, made_before.pwd) == Stat.OK
    assert await stat_of(await gates_for(rotated, db), made_before.uid, made_before.pwd) == Stat.OK
    status = await Operator(rotated, db, actor=Actor.cli()).access.key_status()
    assert (status.current, status.on_older, status.digests) == (2, 1, {1: 1, 2: 1})


async def test_rotating_the_kept_key_reaches_a_running_gatekeeper(
    tmp_path: Path, database_url: str
) -> None:
    """`secret rotate` on a key kept in var/secret: a gatekeeper started before it
    learns the new key at its next poll; nobody is locked out, the old account
    moves to the new key, and a key retired once unused leaves the file."""
    settings = make_settings(tmp_path, database_url=database_url, secret="")
    kept = tmp_path / "var" / "secret"
    assert kept.exists() and kept.stat().st_mode & 0o077 == 0
    db = Database(settings)
    await db.start()
    try:
        operator = Operator(settings, db, actor=Actor.cli())
        before = await create_customer(operator)
        gates = await gates_for(settings, db)
        status = await operator.access.rotate_key()
        assert (status.current, status.versions, status.on_older) == (2, (1, 2), 1)
        assert kept.stat().st_mode & 0o077 == 0
        after = await create_customer(operator)  # on key 2 already
        assert await key_versions(db, after.uid) == (2, None)
        await gates.refresh()
        assert gates.keys.current == 2
        assert await stat_of(gates, after.uid, after.pwd) == Stat.OK
        assert await stat_of(gates, before.uid, before.pwd) == Stat.OK
        assert await key_versions(db, before.uid) == (2, None)
        status = await operator.access.key_status()
        assert (status.on_older, status.retirable) == (0, (1,))
        with pytest.raises(InvalidInput, match="current key"):
            await operator.access.retire_key(2)
        first_key = parse_keyring(kept.read_text()).keys[1]
        status = await operator.access.retire_key(1)
        assert status.versions == (2,)
        assert first_key not in kept.read_text() and kept.stat().st_mode & 0o077 == 0
        # A process started now reads the ring {2} from the file: all still in.
        fresh = make_settings(tmp_path, database_url=database_url, secret="")
        fresh_gates = await gates_for(fresh, db)
        assert await stat_of(fresh_gates, before.uid, before.pwd) == Stat.OK
        assert await stat_of(fresh_gates, after.uid, after.pwd) == Stat.OK
    finally:
        await db.close()


async def test_an_old_key_in_use_cannot_be_retired(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url, secret="")
    db = Database(settings)
    await db.start()
    try:
        operator = Operator(settings, db, actor=Actor.cli())
        await create_customer(operator)
        await operator.access.rotate_key()
        with pytest.raises(InvalidInput, match="still on key version 1"):
            await operator.access.retire_key(1)
        assert (await operator.access.key_status()).versions == (1, 2)
    finally:
        await db.close()


# -- passwords and the legacy md5-without-uid option -----------------------------------


async def test_a_new_password_changes_the_console_hash_and_the_api_pwd(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator)
    gates = await gates_for(settings, db)
    assert await stat_of(gates, customer.uid, customer.pwd) == Stat.OK
    await operator.access.set_password(customer.uid, "n3w-pass")
    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd) == Stat.AUTH_FAILED
    new_pwd = api_password("n3w-pass", customer.uid)
    assert await stat_of(gates, customer.uid, new_pwd, "192.0.2.9") == Stat.OK
    async with db.read() as conn:
        stored_hash = (
            await conn.execute(
                select(accounts.c.console_hash).where(accounts.c.uid == customer.uid)
            )
        ).scalar_one()
    assert console_password_matches(stored_hash, "n3w-pass")
    assert not console_password_matches(stored_hash, customer.password)
    with pytest.raises(InvalidInput):
        await operator.access.set_password(customer.uid, "")


async def test_md5_without_uid_needs_a_legacy_account_its_password_and_follows_it(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator)
    gates = await gates_for(settings, db)
    bare = bare_md5(customer.password)
    assert await stat_of(gates, customer.uid, bare, "192.0.2.1") == Stat.AUTH_FAILED
    with pytest.raises(InvalidInput, match="not a legacy account"):
        await operator.access.set_bare_md5(customer.uid, True, customer.password)

    summary = await operator.access.set_dialect(customer.uid, "legacy")
    assert (summary.dialect, summary.bare_md5) == (Dialect.LEGACY, False)
    await gates.refresh()
    assert await stat_of(gates, customer.uid, bare, "192.0.2.2") == Stat.AUTH_FAILED  # off
    with pytest.raises(InvalidInput, match="not the login password"):
        await operator.access.set_bare_md5(customer.uid, True, "wrong")

    await operator.access.set_bare_md5(customer.uid, True, customer.password)
    assert (await operator.show(customer.uid)).bare_md5
    await gates.refresh()
    assert await stat_of(gates, customer.uid, bare, "192.0.2.3") == Stat.OK
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.3") == Stat.OK

    # A new password moves both; the old md5 no longer works.
    await operator.access.set_password(customer.uid, "other")
    await gates.refresh()
    assert await stat_of(gates, customer.uid, bare, "192.0.2.4") == Stat.AUTH_FAILED
    assert await stat_of(gates, customer.uid, bare_md5("other"), "192.0.2.4") == Stat.OK

    # Back to standard: the option goes with it.
    summary = await operator.access.set_dialect(customer.uid, "standard")
    assert (summary.dialect, summary.bare_md5) == (Dialect.STANDARD, False)
    await gates.refresh()
    assert await stat_of(gates, customer.uid, bare_md5("other"), "192.0.2.5") == Stat.AUTH_FAILED


# -- lockout per /64, and lifting it (issue 11 item 8) ---------------------------------


async def lock(gates: Gatekeeper, uid: str, addresses: list[str]) -> None:
    for address in addresses:
        assert await stat_of(gates, uid, "0" * 32, address) == Stat.AUTH_FAILED


async def test_ipv6_failures_count_per_64_and_mapped_ipv4_as_its_ipv4(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator)
    gates = await gates_for(settings, db)
    await lock(gates, customer.uid, [f"2001:db8:5:6::{i:x}" for i in range(1, 6)])
    assert await stat_of(gates, customer.uid, customer.pwd, "2001:db8:5:6:ffff::1") == (
        Stat.ACCOUNT_LOCKED
    )
    assert await stat_of(gates, customer.uid, customer.pwd, "2001:db8:5:7::1") == Stat.OK
    await lock(gates, customer.uid, ["::ffff:198.51.100.7"] * 3 + ["198.51.100.7"] * 2)
    assert await stat_of(gates, customer.uid, customer.pwd, "198.51.100.7") == Stat.ACCOUNT_LOCKED
    listed = [lock.client for lock in await operator.access.locks(customer.uid)]
    assert sorted(listed) == ["198.51.100.7", "2001:db8:5:6::/64"]


async def test_a_lifted_lock_stops_applying_in_the_process_that_set_it(
    settings: Settings, db: Database, operator: Operator
) -> None:
    """The lock was set by this gatekeeper, which keeps it in memory: lifting it in
    the store must reach it at its next poll."""
    customer = await create_customer(operator)
    gates = await gates_for(settings, db)
    await lock(gates, customer.uid, ["192.0.2.7"] * 5)
    await lock(gates, customer.uid, [f"2001:db8:9:9::{i}" for i in range(1, 6)])
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.7") == Stat.ACCOUNT_LOCKED

    lifted = await operator.access.unlock(customer.uid, "2001:db8:9:9::abc")
    assert [lock.client for lock in lifted] == ["2001:db8:9:9::/64"]
    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd, "2001:db8:9:9::1") == Stat.OK
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.7") == Stat.ACCOUNT_LOCKED

    assert [lock.client for lock in await operator.access.unlock(customer.uid)] == ["192.0.2.7"]
    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.7") == Stat.OK
    assert await operator.access.locks(customer.uid) == []
    # The failure count went with it: four new failures do not lock again.
    await lock(gates, customer.uid, ["192.0.2.7"] * 4)
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.7") == Stat.OK
    with pytest.raises(InvalidInput):
        await operator.access.unlock(customer.uid, "not-an-address")


async def test_a_lock_set_while_a_refresh_reads_is_kept(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fifth failure commits its lock after a refresh has read the locks: the
    refresh must not drop it (only locks the operator lifted go)."""
    customer = await create_customer(operator)
    gates = await gates_for(settings, db)
    await lock(gates, customer.uid, ["192.0.2.8"] * 4)
    read_locks = system.active_locks

    async def read_then_fail(conn: Any, now: int) -> dict[tuple[str, str], int]:
        snapshot = await read_locks(conn, now)
        if not on_database(conn, settings):
            return snapshot
        await lock(gates, customer.uid, ["192.0.2.8"])
        return snapshot

    monkeypatch.setattr(system, "active_locks", read_then_fail)
    await gates.refresh()
    monkeypatch.setattr(system, "active_locks", read_locks)
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.8") == Stat.ACCOUNT_LOCKED
    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.8") == Stat.ACCOUNT_LOCKED


# -- migration 0008 ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_reset_postgres(url))
    yield url


async def test_migration_0008_keeps_existing_accounts_working(
    tmp_path: Path, unmigrated_url: str
) -> None:
    """An account stored by 0006-era code (digest = HMAC of the one secret) still
    authenticates after the upgrade: its digest is read as key version 1."""
    await upgrade(unmigrated_url, "0006")
    engine = create_async_engine(unmigrated_url)
    pwd = api_password("123123", "old")
    async with engine.begin() as conn:
        # The columns of revision 0006, as the code of then wrote them.
        await conn.execute(
            text(
                "INSERT INTO accounts (uid, api_key_digest, console_hash, ext_code,"
                " per_number, created_at, updated_at)"
                " VALUES ('old', :digest, :hash, '0001', 'off', 0, 0)"
            ),
            {"digest": api_key_digest("test-secret", pwd), "hash": console_hash("123123")},
        )
    await engine.dispose()
    await upgrade(unmigrated_url)
    settings = make_settings(tmp_path, database_url=unmigrated_url)
    db = Database(settings)
    await db.start()
    try:
        gates = await gates_for(settings, db)
        assert await stat_of(gates, "old", pwd) == Stat.OK
        summary = await Operator(settings, db, actor=Actor.cli()).show("old")
        assert (summary.dialect, summary.bare_md5) == (Dialect.STANDARD, False)
        assert await key_versions(db, "old") == (1, None)
        async with db.read() as conn:
            assert await system.locks_of(conn, "old", 0) == []
    finally:
        await db.close()
