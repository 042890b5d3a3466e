"""Small helpers every query module shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

# SQLite takes at most 999 bound parameters in one statement (before 3.32):
# IN lists stay below it, whatever else the statement binds.
IN_CHUNK = 900


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> list[Sequence[T]]:
    """`values` cut into IN lists of a size every database takes."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def insert_for(conn: Any, table: Table) -> Any:
    """The INSERT of `conn`'s dialect, which has ON CONFLICT (both PostgreSQL's
    and SQLite's; SQLAlchemy's generic one has not)."""
    into = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return into(table)
