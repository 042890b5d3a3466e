"""Operators and their sessions (operators, operator_sessions): SQL only.

Every function runs in the caller's connection, so a change and its audit
entry (core/audit.py) share one transaction.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Row, delete, func, select, update
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


async def count_active_admins(conn: AsyncConnection, admin_role: str) -> int:
    query = select(func.count()).where(
        operators.c.role == admin_role, operators.c.disabled.is_(False)
    )
    return int((await conn.execute(query)).scalar_one())


async def change(conn: AsyncConnection, operator_id: int, now: int, **values: object) -> None:
    """Set columns of one operator (role, disabled, password_hash, totp_secret, ...)."""
    await conn.execute(
        update(operators).where(operators.c.id == operator_id).values(updated_at=now, **values)
    )


async def set_failures(
    conn: AsyncConnection, operator_id: int, failures: int, locked_until: int
) -> None:
    """The count of failed sign-ins (not a change of the operator: updated_at stays)."""
    await conn.execute(
        update(operators)
        .where(operators.c.id == operator_id)
        .values(failures=failures, locked_until=locked_until)
    )


async def signed_in(conn: AsyncConnection, operator_id: int, now: int) -> None:
    await conn.execute(
        update(operators)
        .where(operators.c.id == operator_id)
        .values(failures=0, locked_until=0, signed_in_at=now)
    )


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
