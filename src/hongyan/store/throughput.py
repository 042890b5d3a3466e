"""The throughput table: each process's counts a second (see hongyan/throughput.py)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from hongyan.store.schema import throughput

_COLUMNS = ("accepted", "submitted", "delivered", "failed")


class Flush(NamedTuple):
    process: str
    counts: dict[int, tuple[int, int, int, int]]  # second → accepted, submitted, delivered, failed
    prune_before: int | None = None  # seconds: rows older than this go


def add(conn: Connection, flushes: list[Flush]) -> list[None]:
    """Add the counts to their (second, process) rows (group-commit handler).
    A second flushed twice (a flush in the middle of it) adds up."""
    into = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for flush in flushes:
        rows = [
            {"second": second, "process": flush.process, **dict(zip(_COLUMNS, values, strict=True))}
            for second, values in sorted(flush.counts.items())
        ]
        if rows:
            statement = into(throughput)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[throughput.c.second, throughput.c.process],
                    set_={name: throughput.c[name] + statement.excluded[name] for name in _COLUMNS},
                ),
                rows,
            )
        if flush.prune_before is not None:
            conn.execute(delete(throughput).where(throughput.c.second < flush.prune_before))
    return [None] * len(flushes)


def series(conn: Connection, since: int, until: int) -> dict[int, tuple[int, int, int, int]]:
    """Every process's counts summed, by second, for since <= second < until
    (one range read of the primary key)."""
    rows = conn.execute(
        select(
            throughput.c.second,
            *(func.sum(throughput.c[name]) for name in _COLUMNS),
        )
        .where(throughput.c.second >= since, throughput.c.second < until)
        .group_by(throughput.c.second)
    )
    return {
        int(second): (int(a or 0), int(s or 0), int(d or 0), int(f or 0))
        for second, a, s, d, f in rows
    }
