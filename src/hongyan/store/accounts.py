"""Accounts, their bound addresses and their ledger entries for top-ups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core import extensions
from hongyan.core.models import Account, AccountSummary
from hongyan.core.states import LedgerKind
from hongyan.errors import InvalidInput
from hongyan.store.schema import account_addresses, accounts, ledger
from hongyan.store.system import bump_generation


async def _networks(conn: AsyncConnection, account_id: int) -> list[str]:
    rows = await conn.execute(
        select(account_addresses.c.network)
        .where(account_addresses.c.account_id == account_id)
        .order_by(account_addresses.c.network)
    )
    return [row[0] for row in rows]


async def _row(conn: AsyncConnection, uid: str, lock: bool = False) -> Any:
    query = select(accounts).where(accounts.c.uid == uid)
    if lock:
        # PostgreSQL: held until the transaction ends, so that what an operator
        # action records as "before" is what it changed (SQLite: one writer anyway).
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


async def load_account(conn: AsyncConnection, uid: str) -> Account | None:
    row = await _row(conn, uid)
    if row is None:
        return None
    return Account.from_row(row, await _networks(conn, row["id"]))


async def uids_with_dialect(conn: AsyncConnection, dialect: str) -> frozenset[str]:
    """The uids of the accounts answered in `dialect` (set by the operator, one by one)."""
    rows = await conn.execute(select(accounts.c.uid).where(accounts.c.dialect == dialect))
    return frozenset(row[0] for row in rows)


async def load_summary(
    conn: AsyncConnection, uid: str, *, lock: bool = False
) -> AccountSummary | None:
    """`lock`: in a write transaction, lock the account's row until it ends."""
    row = await _row(conn, uid, lock)
    if row is None:
        return None
    return AccountSummary.from_row(row, await _networks(conn, row["id"]))


async def balance_of(conn: AsyncConnection, account_id: int) -> tuple[int, int]:
    """(balance, sent_total) in parts."""
    row = (
        await conn.execute(
            select(accounts.c.balance, accounts.c.sent_total).where(accounts.c.id == account_id)
        )
    ).one()
    return int(row[0]), int(row[1])


async def next_ext_code(conn: AsyncConnection) -> str:
    """An extension code that no code in use begins and that begins none
    (`hongyan.core.extensions`: tiers of 4, 6 and 8 digits)."""
    code = accounts.c.ext_code
    # The highest code in use of each tier, in one statement. Codes of one
    # width compare as their numbers do, as strings too.
    highest = (
        await conn.execute(
            select(
                *(
                    select(code)
                    .where(code.between(tier.code(tier.first), tier.code(tier.last)))
                    .where(func.length(code) == tier.width)
                    .order_by(code.desc())
                    .limit(1)
                    .scalar_subquery()
                    for tier in extensions.TIERS
                )
            )
        )
    ).one()
    for tier, top in zip(extensions.TIERS, highest, strict=True):
        candidate = extensions.first_candidate(tier, top)
        while candidate is not None:
            # The codes it begins are the digit strings from it to it + 9s: a
            # range of the unique index, whatever the collation, unlike LIKE.
            begun = code.between(candidate, candidate.ljust(extensions.LONGEST, "9"))
            related = or_(code.in_(extensions.prefixes(candidate)), begun)
            in_the_way = (await conn.execute(select(code).where(related))).scalars().all()
            if extensions.allowed(candidate, in_the_way):
                return candidate
            candidate = extensions.next_candidate(tier, candidate, in_the_way)
    raise InvalidInput("no extension code is left: every tier of 4, 6 and 8 digits is in use")


async def codes_in_the_way(conn: AsyncConnection, candidate: str, account_id: int) -> list[str]:
    """The codes of other accounts that `candidate` begins or that begin it."""
    code = accounts.c.ext_code
    begun = code.between(candidate, candidate.ljust(extensions.LONGEST, "9"))
    related = or_(code.in_(extensions.prefixes(candidate)), begun)
    rows = await conn.execute(select(code).where(related, accounts.c.id != account_id))
    return [str(row[0]) for row in rows]


async def create_account(
    conn: AsyncConnection,
    *,
    uid: str,
    api_key_digest: str,
    key_version: int,
    console_hash: str,
    balance: int,
    per_number: str,
    rate_limit: int | None,
    now: int,
) -> int:
    # First, so that on PostgreSQL concurrent creations wait for each other
    # here (the counter's row lock) and each sees the codes the others took.
    await bump_generation(conn)
    ext_code = await next_ext_code(conn)
    account_id: int = (
        await conn.execute(
            insert(accounts)
            .values(
                uid=uid,
                api_key_digest=api_key_digest,
                key_version=key_version,
                console_hash=console_hash,
                ext_code=ext_code,
                balance=balance,
                sent_total=0,
                per_number=per_number,
                rate_limit=rate_limit,
                rate_tokens=float(rate_limit or 0),
                rate_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(accounts.c.id)
        )
    ).scalar_one()
    if balance:
        await conn.execute(
            insert(ledger).values(
                account_id=account_id,
                delta=balance,
                balance_after=balance,
                kind=LedgerKind.TOPUP,
                note="initial balance",
                created_at=now,
            )
        )
    return account_id


async def update_account(conn: AsyncConnection, account_id: int, now: int, **values: Any) -> None:
    await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(updated_at=now, **values)
    )
    await bump_generation(conn)


async def topup(conn: AsyncConnection, account_id: int, amount: int, note: str, now: int) -> int:
    """Add `amount` parts (negative to debit) and write the ledger entry; the new balance."""
    balance: int = (
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(balance=accounts.c.balance + amount, updated_at=now)
            .returning(accounts.c.balance)
        )
    ).scalar_one()
    await conn.execute(
        insert(ledger).values(
            account_id=account_id,
            delta=amount,
            balance_after=balance,
            kind=LedgerKind.TOPUP if amount >= 0 else LedgerKind.DEBIT,
            note=note,
            created_at=now,
        )
    )
    return balance


async def deduct(
    conn: AsyncConnection, account_id: int, amount: int, note: str, now: int
) -> int | None:
    """Take `amount` parts off and write the ledger entry; the new balance, or
    None (and nothing changed) when the balance holds fewer than `amount`."""
    balance = (
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.balance >= amount)
            .values(balance=accounts.c.balance - amount, updated_at=now)
            .returning(accounts.c.balance)
        )
    ).scalar_one_or_none()
    if balance is None:
        return None
    await conn.execute(
        insert(ledger).values(
            account_id=account_id,
            delta=-amount,
            balance_after=balance,
            kind=LedgerKind.DEBIT,
            note=note,
            created_at=now,
        )
    )
    return int(balance)


async def add_network(conn: AsyncConnection, account_id: int, network: str) -> None:
    await conn.execute(insert(account_addresses).values(account_id=account_id, network=network))
    await bump_generation(conn)


async def remove_network(conn: AsyncConnection, account_id: int, network: str) -> bool:
    result = await conn.execute(
        delete(account_addresses).where(
            account_addresses.c.account_id == account_id, account_addresses.c.network == network
        )
    )
    await bump_generation(conn)
    return bool(result.rowcount)


async def ledger_sum(conn: AsyncConnection, account_id: int) -> int:
    total = await conn.execute(
        select(func.coalesce(func.sum(ledger.c.delta), 0)).where(ledger.c.account_id == account_id)
    )
    return int(total.scalar_one())


# -- credentials under versioned server keys (core/credentials.py) -------------------


@dataclass(frozen=True, slots=True)
class Rekey:
    """Write `new` over the account's digest (bare md5 one if `bare`) if it is still `old`."""

    account_id: int
    bare: bool
    old_digest: str
    old_version: int
    new_digest: str
    new_version: int


def rekey(conn: Connection, items: list[Rekey]) -> list[bool]:
    """Group-commit handler: move digests to the current key; whether each was written.

    Conditional on the digest being unchanged, so a password changed meanwhile
    is never overwritten. No generation bump: the digest proves the same `pwd`
    as before, so other processes' cached accounts stay right, and a mass
    re-key after a rotation does not empty every cache at each request."""
    written = []
    for item in items:
        digest, version = (
            (accounts.c.bare_md5_digest, accounts.c.bare_md5_key_version)
            if item.bare
            else (accounts.c.api_key_digest, accounts.c.key_version)
        )
        result = conn.execute(
            update(accounts)
            .where(
                accounts.c.id == item.account_id,
                digest == item.old_digest,
                version == item.old_version,
            )
            .values({digest: item.new_digest, version: item.new_version})
        )
        written.append(bool(result.rowcount))
    return written


async def account_console_hash(conn: AsyncConnection, account_id: int) -> str:
    row = await conn.execute(select(accounts.c.console_hash).where(accounts.c.id == account_id))
    return str(row.scalar_one())


async def digests_by_version(conn: AsyncConnection) -> dict[int, int]:
    """How many stored digests (API and bare md5) are on each key version."""
    counts: dict[int, int] = {}
    for column, present in (
        (accounts.c.key_version, None),
        (accounts.c.bare_md5_key_version, accounts.c.bare_md5_digest.is_not(None)),
    ):
        query = select(column, func.count()).group_by(column)
        if present is not None:
            query = query.where(present)
        for version, count in await conn.execute(query):
            counts[int(version)] = counts.get(int(version), 0) + int(count)
    return counts


async def accounts_on_older_keys(conn: AsyncConnection, current: int) -> int:
    """Accounts with a digest on a key version older than `current`."""
    query = (
        select(func.count())
        .select_from(accounts)
        .where(
            or_(
                accounts.c.key_version < current,
                accounts.c.bare_md5_digest.is_not(None)
                & (accounts.c.bare_md5_key_version < current),
            )
        )
    )
    return int((await conn.execute(query)).scalar_one())
