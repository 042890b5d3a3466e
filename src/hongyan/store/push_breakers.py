"""Each push host's breaker as the pusher last saw it (push_breakers)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from hongyan.store.schema import push_breakers


class BreakerRow(NamedTuple):
    host: str  # scheme://host:port
    state: str  # closed, open, probing
    failures: int
    trips: int
    open_until: int  # wall clock ms; 0: not open
    updated_at: int


def save(conn: Connection, batches: list[list[BreakerRow]]) -> list[None]:
    """Upsert the hosts' rows (group-commit handler)."""
    into = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for rows in batches:
        if not rows:
            continue
        statement = into(push_breakers)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[push_breakers.c.host],
                set_={
                    name: statement.excluded[name]
                    for name in ("state", "failures", "trips", "open_until", "updated_at")
                },
            ),
            [row._asdict() for row in rows],
        )
    return [None] * len(batches)


def read_all(conn: Connection) -> dict[str, BreakerRow]:
    rows = conn.execute(select(*push_breakers.c).order_by(push_breakers.c.host))
    return {row.host: BreakerRow(*row) for row in rows}
