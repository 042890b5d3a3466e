"""Migration 0007 refuses to go on while two accounts' extension codes collide,
naming them, on SQLite and PostgreSQL (issue 11, item 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text, update

from hongyan.errors import DataConflict
from hongyan.store.engine import create_engine
from hongyan.store.migrate import alembic_config, upgrade
from hongyan.store.schema import accounts
from tests.conftest import _reset_postgres
from tests.store.old_accounts import old_account_rows

# The revision 0007 follows, whatever others are chained in before it.
BEFORE = ScriptDirectory.from_config(alembic_config()).get_revision("0007").down_revision
assert isinstance(BEFORE, str)


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, migrated up to just before 0007."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'hongyan.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        asyncio.run(_reset_postgres(url))
    asyncio.run(upgrade(url, BEFORE))
    yield url


async def _accounts(url: str, codes: dict[str, str]) -> None:
    engine = create_engine(url, for_writes=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(accounts),
                old_account_rows(codes),
            )
    finally:
        await engine.dispose()


async def _version(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return str(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            )
    finally:
        await engine.dispose()


async def _set_code(url: str, uid: str, code: str) -> None:
    engine = create_engine(url, for_writes=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.uid == uid).values(ext_code=code))
    finally:
        await engine.dispose()


async def test_colliding_codes_stop_the_upgrade_until_they_are_fixed(blank_url: str) -> None:
    await _accounts(
        blank_url, {"acme": "1000", "zeta": "10000", "kilo": "0999", "mike": "10001", "x": "7"}
    )
    with pytest.raises(DataConflict) as refused:
        await upgrade(blank_url)
    message = str(refused.value)
    assert message.startswith("2 pair(s) of accounts have extension codes")
    assert "'acme' (1000) begins 'zeta' (10000)" in message
    assert "'acme' (1000) begins 'mike' (10001)" in message
    assert "kilo" not in message and "'x'" not in message
    assert "UPDATE accounts SET ext_code" in message
    assert await _version(blank_url) == BEFORE, "nothing applied"

    await _set_code(blank_url, "zeta", "900000")
    await _set_code(blank_url, "mike", "900001")
    await upgrade(blank_url)
    assert await _version(blank_url) != BEFORE


async def test_the_old_allocators_first_9999_codes_pass(blank_url: str) -> None:
    await _accounts(blank_url, {f"a{n}": f"{n:04d}" for n in range(1, 10_000)})
    await upgrade(blank_url)
    assert await _version(blank_url) != BEFORE
