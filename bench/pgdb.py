"""A PostgreSQL database made anew for a bench run (bench/cluster.py, bench/history.py)."""

from __future__ import annotations

import asyncpg


async def fresh(dsn: str) -> None:
    """Drop the database `dsn` names (whoever is connected) and create it empty."""
    base, _, name = dsn.rpartition("/")
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
