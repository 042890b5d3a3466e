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

from hongyan.channels.base import InboundFragment, InboundReply
from hongyan.core import extensions
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
    to_push = push.pushing(conn, (o for o in owners if o is not None), push.REPLY)
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
            push.enqueue(conn, push.REPLY, [(account_id, reply_id)], reply.at)
    return owners


def _owner(conn: Connection, gateway: str, prefix: str) -> int | None:
    """The account whose extension code begins the gateway number's part after
    the prefix (`hongyan.core.extensions.split`); None when no code does, or
    when two do (codes that are not prefix-free: the owner is unknown)."""
    if not gateway.startswith(prefix):
        return None
    extension = gateway[len(prefix) :]
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
    """Keep parts of long replies; record a reply once all its parts are here.

    Parts acknowledged upstream are never dropped. Parts kept under the same
    reference that cannot belong with this one (older than the wait, another
    part count, other text for the same part) are first recorded as the reply
    they are, as far as they go. A part offered again, whether its reply is
    still waiting or was recorded less than the wait ago, changes nothing.
    For each part: whether it completed its reply. Group-commit handler.
    """
    completed: list[bool] = []
    for channel, part, prefix, wait_ms in items:
        mobile = part.mobile[:40]
        key = _group(channel, mobile, part.reference)
        kept = conn.execute(
            select(
                reply_fragments.c.seq,
                reply_fragments.c.total,
                reply_fragments.c.content,
                reply_fragments.c.received_at,
                reply_fragments.c.completed_at,
            ).where(key)
        ).all()
        same = next((row for row in kept if row.seq == part.seq), None)
        offered_again = same is not None and same.content == part.text and same.total == part.total
        done = next((row.completed_at for row in kept if row.completed_at is not None), None)
        if done is not None:
            if offered_again and part.at - done <= wait_ms:
                completed.append(False)
                continue
            # A new reply under a reference a recorded one had.
            conn.execute(delete(reply_fragments).where(key))
        elif kept:
            fresh = all(row.received_at >= part.at - wait_ms for row in kept)
            if offered_again and fresh:
                completed.append(False)
                continue
            if same is not None or not fresh or any(row.total != part.total for row in kept):
                # Not this reply's: the reference is taken again.
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
        whole = have >= part.total
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
    rows = sorted(taken, key=lambda row: row.seq)
    text = "".join(row.content for row in rows)
    whole = InboundReply(mobile, rows[0].gateway, text, max(row.received_at for row in rows))
    record(conn, [IncomingReply(channel, whole, prefix)])
    return True
