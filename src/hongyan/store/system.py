"""Platform switches, blocked keywords, failed logins, and the change counter.

Every operator change bumps `generation` in the same transaction; a running
server polls the switches and the counter and reloads what changed, so a
change made by the CLI in another process takes effect within one poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Executable, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.lockout import FailureCount, count_failure
from hongyan.store.schema import auth_failures, keywords, system_state
from hongyan.store.sql import insert_for

GENERATION = "generation"
MAINTENANCE = "maintenance"
PAUSED = "paused"
SWITCHES = (MAINTENANCE, PAUSED)
# The current server key version after `hongyan secret rotate`: a running
# server that holds an older one reads its key file again.
KEY_VERSION = "key_version"


async def read_state(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(system_state.c.name, system_state.c.value))
    return {name: int(value) for name, value in rows}


def _upsert(conn: AsyncConnection, name: str, value: int, *, add: bool) -> Executable:
    """Set (or, with `add`, increase by) `name`'s value, creating its row if it has
    none, in one statement: the row's lock orders concurrent writers on
    PostgreSQL, where an update then an insert let two transactions both find
    no row and the second insert fail on the primary key."""
    statement = insert_for(conn, system_state).values(name=name, value=value)
    new_value = system_state.c.value + value if add else statement.excluded.value
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[system_state.c.name], set_={"value": new_value}
    )
    return upsert


async def _set(conn: AsyncConnection, name: str, value: int) -> None:
    await conn.execute(_upsert(conn, name, value, add=False))


async def bump_generation(conn: AsyncConnection) -> None:
    await conn.execute(_upsert(conn, GENERATION, 1, add=True))


async def set_switch(conn: AsyncConnection, name: str, on: bool) -> None:
    await _set(conn, name, int(on))
    await bump_generation(conn)


async def announce_key_version(conn: AsyncConnection, version: int) -> None:
    await _set(conn, KEY_VERSION, version)


async def list_keywords(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(keywords.c.word).order_by(keywords.c.word))
    return [row[0] for row in rows]


async def add_keyword(conn: AsyncConnection, word: str, now: int) -> bool:
    exists = await conn.execute(select(keywords.c.word).where(keywords.c.word == word))
    if exists.first() is not None:
        return False
    await conn.execute(insert(keywords).values(word=word, created_at=now))
    await bump_generation(conn)
    return True


async def remove_keyword(conn: AsyncConnection, word: str) -> bool:
    result = await conn.execute(delete(keywords).where(keywords.c.word == word))
    await bump_generation(conn)
    return bool(result.rowcount)


async def active_locks(conn: AsyncConnection, now: int) -> dict[tuple[str, str], int]:
    """The locks ending after `now` (a later time: only the locks set lately)."""
    rows = await conn.execute(
        select(auth_failures.c.uid, auth_failures.c.address, auth_failures.c.locked_until).where(
            auth_failures.c.locked_until > now
        )
    )
    return {(uid, address): int(until) for uid, address, until in rows}


async def locks_of(conn: AsyncConnection, uid: str, now: int) -> list[tuple[str, int]]:
    """(lockout key, locked until) of the uid's active locks, soonest to end first."""
    rows = await conn.execute(
        select(auth_failures.c.address, auth_failures.c.locked_until)
        .where(auth_failures.c.uid == uid, auth_failures.c.locked_until > now)
        .order_by(auth_failures.c.locked_until, auth_failures.c.address)
    )
    return [(address, int(until)) for address, until in rows]


async def lift_locks(
    conn: AsyncConnection, uid: str, address: str | None, now: int
) -> list[tuple[str, int]]:
    """Forget the uid's failed logins (from one lockout key, or all); the active locks lifted.

    The failure counts go too, so the next failure starts a new count. A
    running server stops applying the lock at its next poll, which re-reads
    all active locks at the change counter's bump (core/gates.py)."""
    key = auth_failures.c.uid == uid
    if address is not None:
        key = key & (auth_failures.c.address == address)
    lifted = await conn.execute(
        select(auth_failures.c.address, auth_failures.c.locked_until).where(
            key, auth_failures.c.locked_until > now
        )
    )
    locks = [(a, int(until)) for a, until in lifted]
    await conn.execute(delete(auth_failures).where(key))
    await bump_generation(conn)
    return sorted(locks)


def record_failures(
    conn: Connection,
    attempts: list[tuple[str, str, int]],
    *,
    limit: int,
    window_ms: int,
    lock_ms: int,
) -> list[int]:
    """Count failed logins (uid, address, at) by `lockout.count_failure`; each
    one's `locked_until` (0: not locked).

    The pair's row is made if missing and then read locked, in one transaction,
    so two processes counting for one pair at once on PostgreSQL wait for each
    other: neither insert fails on the primary key, and no count is lost."""
    results = []
    for uid, address, at in attempts:
        key = (auth_failures.c.uid == uid) & (auth_failures.c.address == address)
        row = None
        while row is None:  # a row pruned between the two statements is made again
            conn.execute(
                insert_for(conn, auth_failures)
                .values(uid=uid, address=address, failures=0, window_start=at, locked_until=0)
                .on_conflict_do_nothing()
            )
            row = conn.execute(select(auth_failures).where(key).with_for_update()).first()
        kept = FailureCount(row.failures, row.window_start, row.locked_until)
        counted = count_failure(kept, at, limit=limit, window_ms=window_ms, lock_ms=lock_ms)
        conn.execute(
            update(auth_failures)
            .where(key)
            .values(
                failures=counted.failures,
                window_start=counted.window_start,
                locked_until=counted.locked_until,
            )
        )
        results.append(counted.locked_until)
    # Expired rows are deleted by the housekeeper (`prune_failures`), not
    # here: a delete per failed login scanned the whole table on the path a
    # guesser drives.
    return results


@dataclass(frozen=True)
class PruneRequest:
    now: int
    window_ms: int
    batch: int


def prune_failures(conn: Connection, requests: list[PruneRequest]) -> list[int]:
    """Delete up to `batch` expired failure rows each; how many went.

    A row is expired when its counting window is over (`record_failures`
    starts a new count for it) and it holds no lock: it then means what no
    row means. Made-up uids and rotating IPv6 /64s each leave a row, so the
    table is kept to the failures of the last window. The expiry is asked
    again of the row deleted: on PostgreSQL a failure counted meanwhile
    (a new window) keeps its row."""
    counts = []
    for request in requests:
        cutoff = request.now - request.window_ms
        expired = (auth_failures.c.window_start < cutoff) & (
            auth_failures.c.locked_until <= request.now
        )
        key = tuple_(auth_failures.c.uid, auth_failures.c.address)
        some = select(auth_failures.c.uid, auth_failures.c.address).where(expired)
        result = conn.execute(
            delete(auth_failures).where(expired, key.in_(some.limit(request.batch)))
        )
        counts.append(result.rowcount)
    return counts
