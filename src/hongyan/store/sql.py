"""Small helpers every query module shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Boolean, ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from hongyan.core.partitions import LEGACY_TOP, id_floor

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


class MadeSince(ColumnElement[bool]):
    """Rows whose id (a column of message or reply ids) may have been made at
    `since_ms` or later. A query by time adds it beside its condition on the
    time column, so that PostgreSQL reads only the partitions of those days
    (and the first, of ids from before days were in them); SQLite, whose
    ids carry no day, is given nothing to check."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own declaration)
        ("column", InternalTraversal.dp_clauseelement),
        ("floor", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: ColumnElement[int], since_ms: int) -> None:
        self.column = column
        self.floor = id_floor(since_ms)


@compiles(MadeSince)
def _made_since(element: MadeSince, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} >= {int(element.floor)} OR {column} < {LEGACY_TOP})"


@compiles(MadeSince, "sqlite")
def _made_since_sqlite(element: MadeSince, compiler: SQLCompiler, **kw: Any) -> str:
    return "1"  # a boolean there is an integer: this reads "1 = 1"
