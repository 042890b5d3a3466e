"""Replies (MO): attributed to an account by the gateway number, handed out by /rx/.

Both functions are group-commit handlers (synchronous, see `store.writer`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core import extensions, fragments
from hongyan.core.models import InboundFragment, InboundReply
from hongyan.core.states import OutboxKind
from hongyan.store import push
from hongyan.store.schema import accounts, replies, reply_fragments

log = logging.getLogger(__name__)


class IncomingReply(NamedTuple):
    channel: str
    reply: InboundReply
    gateway_prefix: str


class ReplyRequest(NamedTuple):
    account_id: int
    limit: int
    now: int
    since: int | None  # `time=`: every reply from then on, fetched or not


class Reply(NamedTuple):
    mobile: str
    content: str
    received_at: int
    gateway: str


def record(conn: Connection, items: list[IncomingReply]) -> list[int | None]:
    """Store replies; each one's account id, or None when no extension matches.

    A reply to an account that pushes replies goes to the push outbox too,
    and is not handed out by /rx/ unless pushing gives up.
    """
    owners = [_owner(conn, reply.gateway, prefix) for _, reply, prefix in items]
    to_push = push.pushing(conn, (o for o in owners if o is not None), OutboxKind.REPLY)
    for (channel, reply, _), account_id in zip(items, owners, strict=True):
        pushed = account_id in to_push
        reply_id = conn.execute(
            insert(replies)
            .values(
                account_id=account_id,
                mobile=reply.mobile[:40],
                content=reply.text,
                gateway=reply.gateway[:40],
                channel=channel,
                received_at=reply.at,
                fetched_at=reply.at if pushed else None,
            )
            .returning(replies.c.id)
        ).scalar_one()
        if pushed:
            assert account_id is not None
            push.enqueue(conn, OutboxKind.REPLY, [(account_id, reply_id)], reply.at)
    return owners


def _owner(conn: Connection, gateway: str, prefix: str) -> int | None:
    """The account whose extension code begins the gateway number's part after
    the prefix (`hongyan.core.extensions.split`); None when no code does, or
    when two do (codes that are not prefix-free: the owner is unknown)."""
    extension = extensions.extension_of(gateway, prefix)
    if extension is None:
        return None
    # Each possible code looked up by the unique index, not every code compared.
    rows = conn.execute(
        select(accounts.c.id, accounts.c.ext_code).where(
            accounts.c.ext_code.in_(extensions.prefixes(extension))
        )
    ).all()
    found = extensions.split(extension, (row.ext_code for row in rows))
    if found is None:
        if len(rows) > 1:
            log.warning(
                "a reply matches the extension codes of several accounts; kept without owner",
                extra={"gateway": gateway, "codes": sorted(row.ext_code for row in rows)},
            )
        return None
    return next(int(row.id) for row in rows if row.ext_code == found[0])


def owner_uid(conn: Connection, gateway: str, prefix: str) -> str | None:
    account_id = _owner(conn, gateway, prefix)
    if account_id is None:
        return None
    uid: str = conn.execute(select(accounts.c.uid).where(accounts.c.id == account_id)).scalar_one()
    return uid


def hand_out(conn: Connection, requests: list[ReplyRequest]) -> list[list[Reply]]:
    return [_hand_out_one(conn, r) for r in requests]


def _hand_out_one(conn: Connection, request: ReplyRequest) -> list[Reply]:
    query = select(
        replies.c.id, replies.c.mobile, replies.c.content, replies.c.received_at, replies.c.gateway
    ).where(replies.c.account_id == request.account_id)
    if request.since is None:
        query = query.where(replies.c.fetched_at.is_(None)).with_for_update(skip_locked=True)
    else:
        query = query.where(replies.c.received_at >= request.since)
    rows = conn.execute(query.order_by(replies.c.id).limit(request.limit)).all()
    unfetched = [row.id for row in rows]
    if unfetched:
        conn.execute(
            update(replies)
            .where(replies.c.id.in_(unfetched), replies.c.fetched_at.is_(None))
            .values(fetched_at=request.now)
        )
    return [Reply(row.mobile, row.content, row.received_at, row.gateway) for row in rows]


class IncomingFragment(NamedTuple):
    channel: str
    fragment: InboundFragment
    gateway_prefix: str
    wait_ms: int  # how long a long reply's parts wait for the rest


def record_fragment(conn: Connection, items: list[IncomingFragment]) -> list[bool]:
    """Keep parts of long replies; record a reply once all its parts are here
    (what a part does to those kept is `core.fragments.on_part`). For each
    part: whether it completed its reply. Group-commit handler."""
    completed: list[bool] = []
    for channel, part, prefix, wait_ms in items:
        mobile = part.mobile[:40]
        key = _group(channel, mobile, part.reference)
        kept = [
            fragments.Kept(*row)
            for row in conn.execute(
                select(
                    reply_fragments.c.seq,
                    reply_fragments.c.total,
                    reply_fragments.c.content,
                    reply_fragments.c.received_at,
                    reply_fragments.c.completed_at,
                ).where(key)
            )
        ]
        step = fragments.on_part(kept, part, wait_ms)
        if step is fragments.Step.IGNORE:
            completed.append(False)
            continue
        if step is fragments.Step.FORGET_RECORDED:
            conn.execute(delete(reply_fragments).where(key))
        elif step is fragments.Step.RECORD_KEPT_FIRST:
            _take(conn, channel, mobile, part.reference, prefix, part.at, keep=False)
        conn.execute(
            insert(reply_fragments).values(
                channel=channel,
                mobile=mobile,
                reference=part.reference,
                seq=part.seq,
                total=part.total,
                gateway=part.gateway[:40],
                content=part.text,
                received_at=part.at,
            )
        )
        (have,) = conn.execute(select(func.count()).where(key)).one()
        whole = fragments.is_whole(have, part.total)
        if whole:
            _take(conn, channel, mobile, part.reference, prefix, part.at, keep=True)
        completed.append(whole)
    return completed


class FlushRequest(NamedTuple):
    now: int
    wait_ms: int
    gateway_prefix: str


def flush_fragments(conn: Connection, requests: list[FlushRequest]) -> list[tuple[int, int]]:
    """Record what waits past its time: long replies whose first part came
    more than the wait ago, with the parts that came, and whole ones two
    processes each missed (on PostgreSQL, each counts only the parts it sees
    committed). Forget recorded replies older than the wait. For each request:
    (whole replies, incomplete replies) recorded. Group-commit handler."""
    counts = []
    for now, wait_ms, prefix in requests:
        conn.execute(delete(reply_fragments).where(reply_fragments.c.completed_at < now - wait_ms))
        groups = conn.execute(
            select(
                reply_fragments.c.channel,
                reply_fragments.c.mobile,
                reply_fragments.c.reference,
                func.count().label("have"),
                func.max(reply_fragments.c.total).label("total"),
            )
            .where(reply_fragments.c.completed_at.is_(None))
            .group_by(
                reply_fragments.c.channel, reply_fragments.c.mobile, reply_fragments.c.reference
            )
            .having(
                or_(
                    func.min(reply_fragments.c.received_at) < now - wait_ms,
                    func.count() >= func.max(reply_fragments.c.total),
                )
            )
        ).all()
        whole = partial = 0
        for g in groups:
            if _take(conn, g.channel, g.mobile, g.reference, prefix, now, keep=True):
                if g.have >= g.total:
                    whole += 1
                else:
                    partial += 1
        counts.append((whole, partial))
    return counts


def _group(channel: str, mobile: str, reference: int) -> ColumnElement[bool]:
    return and_(
        reply_fragments.c.channel == channel,
        reply_fragments.c.mobile == mobile,
        reply_fragments.c.reference == reference,
    )


def _take(
    conn: Connection, channel: str, mobile: str, reference: int, prefix: str, now: int, keep: bool
) -> bool:
    """Record a reply's waiting parts, in order, as one reply; whether there
    were any. The parts are taken by one statement (UPDATE or DELETE ...
    RETURNING), so of two processes only one records them. `keep`: mark them
    completed (to know them if offered again) rather than delete them."""
    waiting = and_(_group(channel, mobile, reference), reply_fragments.c.completed_at.is_(None))
    columns = (
        reply_fragments.c.seq,
        reply_fragments.c.content,
        reply_fragments.c.gateway,
        reply_fragments.c.received_at,
    )
    if keep:
        statement = update(reply_fragments).where(waiting).values(completed_at=now)
        taken = conn.execute(statement.returning(*columns)).all()
    else:
        taken = conn.execute(delete(reply_fragments).where(waiting).returning(*columns)).all()
    if not taken:
        return False
    first = min(taken, key=lambda row: row.seq)
    text = fragments.joined([(row.seq, row.content) for row in taken])
    whole = InboundReply(mobile, first.gateway, text, max(row.received_at for row in taken))
    record(conn, [IncomingReply(channel, whole, prefix)])
    return True


async def waiting(conn: AsyncConnection, account_id: int) -> int:
    """Replies neither fetched by /rx/ nor pushed (pushed ones are marked fetched)."""
    count = await conn.execute(
        select(func.count())
        .select_from(replies)
        .where(replies.c.account_id == account_id, replies.c.fetched_at.is_(None))
    )
    return int(count.scalar_one())
