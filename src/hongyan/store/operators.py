"""Operators and their sessions (operators, operator_sessions): SQL only.

Every function runs in the caller's connection, so a change and its audit
entry (core/audit.py) share one transaction.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Row, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.store.schema import operator_sessions, operators


class StoredOperator(NamedTuple):
    id: int
    name: str
    role: str
    password_hash: str
    totp_secret: str
    disabled: bool
    failures: int
    locked_until: int
    created_at: int
    updated_at: int
    signed_in_at: int | None
    failures_since: int  # when the first failure of the current window was (epoch ms)
    totp_step: int  # the last TOTP time step a sign-in used (a code is good once)


class StoredOperatorSession(NamedTuple):
    operator_id: int
    name: str
    role: str
    disabled: bool
    totp_on: bool
    csrf: str
    created_at: int
    seen_at: int


_COLUMNS = (
    operators.c.id,
    operators.c.name,
    operators.c.role,
    operators.c.password_hash,
    operators.c.totp_secret,
    operators.c.disabled,
    operators.c.failures,
    operators.c.locked_until,
    operators.c.created_at,
    operators.c.updated_at,
    operators.c.signed_in_at,
    operators.c.failures_since,
    operators.c.totp_step,
)


def _stored(row: Row[*tuple[Any, ...]]) -> StoredOperator:
    values = list(row)
    values[5] = bool(values[5])
    return StoredOperator(*values)


async def insert(conn: AsyncConnection, name: str, role: str, password_hash: str, now: int) -> int:
    result = await conn.execute(
        operators.insert().values(
            name=name,
            role=role,
            password_hash=password_hash,
            totp_secret="",
            disabled=False,
            failures=0,
            locked_until=0,
            created_at=now,
            updated_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def by_name(conn: AsyncConnection, name: str) -> StoredOperator | None:
    row = (await conn.execute(select(*_COLUMNS).where(operators.c.name == name))).first()
    return None if row is None else _stored(row)


async def every(conn: AsyncConnection) -> list[StoredOperator]:
    rows = await conn.execute(select(*_COLUMNS).order_by(operators.c.name))
    return [_stored(row) for row in rows]


async def lock_active_admins(conn: AsyncConnection, admin_role: str) -> int:
    """How many enabled admins there are, their rows locked until the transaction
    ends (SELECT ... FOR UPDATE), so that two transactions cannot each see the
    other's admin and both take theirs away. SQLite has no FOR UPDATE (SQLAlchemy
    leaves it out) and needs none: its write transactions run one at a time."""
    query = (
        select(operators.c.id)
        .where(operators.c.role == admin_role, operators.c.disabled.is_(False))
        .order_by(operators.c.id)
        .with_for_update()
    )
    return len((await conn.execute(query)).all())


async def change(conn: AsyncConnection, operator_id: int, now: int, **values: object) -> None:
    """Set columns of one operator (role, disabled, password_hash, totp_secret, ...)."""
    await conn.execute(
        update(operators).where(operators.c.id == operator_id).values(updated_at=now, **values)
    )


async def count_failure(
    conn: AsyncConnection, operator_id: int, now: int, *, window_ms: int, limit: int, lock_ms: int
) -> bool:
    """One more failed sign-in, counted by the database itself (`failures + 1`),
    so parallel failures each count. A count starts again once `window_ms` has
    passed since its first failure; `limit` in one window lock the operator for
    `lock_ms` and the count starts again. Nothing counts while locked. Whether
    this failure locked the operator. (Not a change of the operator: updated_at
    stays.)"""
    new_window = operators.c.failures_since < now - window_ms
    counted = await conn.execute(
        update(operators)
        .where(operators.c.id == operator_id, operators.c.locked_until <= now)
        .values(
            failures=case((new_window, 1), else_=operators.c.failures + 1),
            failures_since=case((new_window, now), else_=operators.c.failures_since),
        )
        .returning(operators.c.failures)
    )
    failures = counted.scalar_one_or_none()
    if failures is None or failures < limit:
        return False
    await conn.execute(
        update(operators)
        .where(operators.c.id == operator_id)
        .values(failures=0, failures_since=0, locked_until=now + lock_ms)
    )
    return True


async def signed_in(
    conn: AsyncConnection, operator_id: int, now: int, totp_step: int | None = None
) -> bool:
    """Record a successful sign-in, if the operator is still enabled and not locked
    and, with a second factor, `totp_step` is newer than the last one used (a code
    is good once, RFC 6238 §5.2); whether it was recorded."""
    query = update(operators).where(
        operators.c.id == operator_id,
        operators.c.locked_until <= now,
        operators.c.disabled.is_(False),
    )
    values: dict[str, object] = {
        "failures": 0,
        "failures_since": 0,
        "locked_until": 0,
        "signed_in_at": now,
    }
    if totp_step is not None:
        query = query.where(operators.c.totp_step < totp_step)
        values["totp_step"] = totp_step
    return (await conn.execute(query.values(**values))).rowcount == 1


async def set_totp(
    conn: AsyncConnection, operator_id: int, now: int, secret: str, totp_step: int
) -> bool:
    """Turn an operator's second factor on, unless it is on already; whether it was."""
    result = await conn.execute(
        update(operators)
        .where(operators.c.id == operator_id, operators.c.totp_secret == "")
        .values(updated_at=now, totp_secret=secret, totp_step=totp_step)
    )
    return result.rowcount == 1


# -- sessions ----------------------------------------------------------------------------


async def create_session(
    conn: AsyncConnection, token_hash: str, operator_id: int, csrf: str, now: int, address: str
) -> None:
    await conn.execute(
        operator_sessions.insert().values(
            token_hash=token_hash,
            operator_id=operator_id,
            csrf=csrf,
            created_at=now,
            seen_at=now,
            address=address[:64],
        )
    )


async def find_session(conn: AsyncConnection, token_hash: str) -> StoredOperatorSession | None:
    row = (
        await conn.execute(
            select(
                operator_sessions.c.operator_id,
                operators.c.name,
                operators.c.role,
                operators.c.disabled,
                operators.c.totp_secret != "",
                operator_sessions.c.csrf,
                operator_sessions.c.created_at,
                operator_sessions.c.seen_at,
            )
            .join(operators, operators.c.id == operator_sessions.c.operator_id)
            .where(operator_sessions.c.token_hash == token_hash)
        )
    ).first()
    if row is None:
        return None
    operator_id, name, role, disabled, totp_on, csrf, created_at, seen_at = row
    return StoredOperatorSession(
        operator_id, name, role, bool(disabled), bool(totp_on), csrf, created_at, seen_at
    )


async def touch_session(conn: AsyncConnection, token_hash: str, now: int) -> None:
    await conn.execute(
        update(operator_sessions)
        .where(operator_sessions.c.token_hash == token_hash)
        .values(seen_at=now)
    )


async def end_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(
        delete(operator_sessions).where(operator_sessions.c.token_hash == token_hash)
    )


async def end_sessions_of(conn: AsyncConnection, operator_id: int) -> int:
    """End every session of one operator (disabled, new password); how many."""
    result = await conn.execute(
        delete(operator_sessions).where(operator_sessions.c.operator_id == operator_id)
    )
    return result.rowcount or 0


async def prune_sessions(conn: AsyncConnection, seen_before: int, created_before: int) -> int:
    """Delete the sessions over their idle or absolute timeout; how many."""
    result = await conn.execute(
        delete(operator_sessions).where(
            (operator_sessions.c.seen_at < seen_before)
            | (operator_sessions.c.created_at < created_before)
        )
    )
    return result.rowcount or 0
