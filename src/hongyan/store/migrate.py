"""Schema migrations (Alembic), run in-process by `hongyan migrate` and `hongyan serve`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from hongyan.config import Settings
from hongyan.store import partitions
from hongyan.store.engine import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(
    url: str,
    revision: str = "head",
    statement_cache_size: int = 100,
    partition_days: int = Settings.model_fields["partition_days"].default,
) -> None:
    """Migrations to `revision`; then, on PostgreSQL with partitioned history,
    the coming days' partitions made (housekeeping keeps them ahead)."""
    engine = create_engine(url, for_writes=True, statement_cache_size=statement_cache_size)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            partitioned = conn.dialect.name == "postgresql" and await partitions.is_partitioned(
                conn
            )
        if partitioned:
            try:
                await partitions.make_ahead(engine.begin, partition_days)
            except DBAPIError as exc:
                if not partitions.lock_waited(exc):
                    raise
                # Sends held the tables; the workers' housekeeping makes them.
                log.warning("partitions not made ahead now: a lock was held too long")
    finally:
        await engine.dispose()


async def upgrade_database(settings: Settings) -> None:
    """The settings' database brought to head, connecting as the platform does."""
    await upgrade(
        settings.database_url,
        statement_cache_size=settings.pg_statement_cache_size,
        partition_days=settings.partition_days,
    )


async def current_tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
