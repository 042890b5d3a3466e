"""The accounts listing's figures: every account's state, balance and recent
traffic, in one statement.

Read from the rollup `message_stats` (per account, UTC hour and status;
store/message_stats.py) and the newest message of each account, each by a
correlated subquery that probes its account's own rows of an index (the
primary key (account_id, hour, status); messages (account_id, created_at,
id)): a few hundred accounts cost a few hundred index lookups each, never a
scan of either table, and no query per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.states import Status
from hongyan.store.message_stats import ACCEPTED, hour_of
from hongyan.store.schema import accounts, message_stats, messages


@dataclass(frozen=True, slots=True)
class AccountFigures:
    uid: str
    frozen: bool
    api_send: bool
    balance: int
    sent: int  # messages accepted since `sent_since`
    delivered: int  # of the messages accepted since `rate_since`, delivered
    failed: int  # ... and failed (refused numbers included)
    last_message_at: int | None  # the newest message's created_at


def _stats(since: int, *statuses: str, exclude: bool = False) -> ScalarSelect[Any]:
    ms = message_stats.c
    status = ms.status.not_in(statuses) if exclude else ms.status.in_(statuses)
    return (
        select(func.coalesce(func.sum(ms.messages), 0))
        .where(ms.account_id == accounts.c.id, ms.hour >= hour_of(since), status)
        .scalar_subquery()
    )


async def figures(
    conn: AsyncConnection, *, uid_contains: str, sent_since: int, rate_since: int
) -> list[AccountFigures]:
    """Every account whose uid contains `uid_contains` (any case), with its figures."""
    a = accounts.c
    newest = (
        select(func.max(messages.c.created_at))
        .where(messages.c.account_id == a.id)
        .scalar_subquery()
    )
    query = select(
        a.uid,
        a.frozen,
        a.api_send,
        a.balance,
        _stats(sent_since, ACCEPTED),
        _stats(rate_since, Status.DELIVERED),
        _stats(rate_since, ACCEPTED, Status.DELIVERED, exclude=True),
        newest,
    )
    if uid_contains:
        query = query.where(func.lower(a.uid).contains(uid_contains.lower(), autoescape=True))
    rows = await conn.execute(query)
    return [
        AccountFigures(
            uid=str(uid),
            frozen=bool(frozen),
            api_send=bool(api_send),
            balance=int(balance),
            sent=int(sent),
            delivered=int(delivered),
            failed=int(failed),
            last_message_at=None if last is None else int(last),
        )
        for uid, frozen, api_send, balance, sent, delivered, failed, last in rows
    ]
