"""Giving parts back: the balance and its REFUND ledger entry, in the caller's
transaction. One place for both ways a refund happens: a message that ends
failed (store/delivery/finals.py) and a cancelled batch (store/batches.py)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, update

from hongyan.core.states import LedgerKind
from hongyan.store.schema import accounts, ledger


def refund(
    conn: Connection, account_id: int, parts: int, submission_id: int, note: str, now: int
) -> int:
    """Credit `parts` to the account with one REFUND entry; the new balance."""
    balance = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance=accounts.c.balance + parts)
        .returning(accounts.c.balance)
    ).scalar_one()
    conn.execute(
        insert(ledger).values(
            account_id=account_id,
            delta=parts,
            balance_after=balance,
            kind=LedgerKind.REFUND,
            submission_id=submission_id,
            note=note,
            created_at=now,
        )
    )
    return int(balance)
