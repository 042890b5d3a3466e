"""Running a read (or an audited export) against the database from a command:
the settings, a migrated database and its clean close, errors as exit 1, as
`common.run` does for operator actions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from hongyan.cli.common import fail, safe_url, settings
from hongyan.config import Settings
from hongyan.errors import HongyanError
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade

T = TypeVar("T")


def with_database(action: Callable[[Settings, Database], Awaitable[T]]) -> T:
    async def go() -> T:
        current = settings()
        await upgrade(current.database_url)
        db = Database(current)
        await db.start()
        try:
            return await action(current, db)
        finally:
            await db.close()

    try:
        return asyncio.run(go())
    except HongyanError as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        url = safe_url(settings().database_url)
        fail(f"database {url} is unavailable: {type(exc).__name__}: {exc}")
