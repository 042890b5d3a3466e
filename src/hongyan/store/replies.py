"""Replies (MO): attributed to an account by the gateway number, handed out by /rx/.

Both functions are group-commit handlers (synchronous, see `store.writer`).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, and_, delete, func, insert, literal, or_, select, update

from hongyan.channels.base import InboundFragment, InboundReply
from hongyan.store import push
from hongyan.store.schema import accounts, replies, reply_fragments


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
    """The account whose extension code is the longest prefix of the gateway's extension part."""
    if not gateway.startswith(prefix):
        return None
    extension = gateway[len(prefix) :]
    return conn.execute(
        select(accounts.c.id)
        .where(literal(extension).like(accounts.c.ext_code + "%"))
        .order_by(func.length(accounts.c.ext_code).desc())
        .limit(1)
    ).scalar()


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


# A part older than this cannot belong to the reply now arriving with its
# reference (handsets reuse the 8-bit reference): it is dropped.
FRAGMENT_STALE_MS = 3_600_000


def record_fragment(conn: Connection, items: list[IncomingFragment]) -> list[bool]:
    """Keep parts of long replies; record a reply once all its parts are here.

    For each part: whether it completed its reply. Group-commit handler.
    """
    completed: list[bool] = []
    for channel, part, prefix in items:
        key = and_(
            reply_fragments.c.channel == channel,
            reply_fragments.c.mobile == part.mobile[:40],
            reply_fragments.c.reference == part.reference,
        )
        conn.execute(
            delete(reply_fragments).where(
                key,
                or_(
                    reply_fragments.c.received_at < part.at - FRAGMENT_STALE_MS,
                    reply_fragments.c.total != part.total,
                    reply_fragments.c.seq == part.seq,  # offered again: the later copy stays
                ),
            )
        )
        conn.execute(
            insert(reply_fragments).values(
                channel=channel,
                mobile=part.mobile[:40],
                reference=part.reference,
                seq=part.seq,
                total=part.total,
                gateway=part.gateway[:40],
                content=part.text,
                received_at=part.at,
            )
        )
        rows = conn.execute(
            select(reply_fragments.c.seq, reply_fragments.c.content, reply_fragments.c.received_at)
            .where(key)
            .order_by(reply_fragments.c.seq)
        ).all()
        if len(rows) < part.total:
            completed.append(False)
            continue
        conn.execute(delete(reply_fragments).where(key))
        whole = InboundReply(part.mobile, part.gateway, "".join(r.content for r in rows), part.at)
        record(conn, [IncomingReply(channel, whole, prefix)])
        completed.append(True)
    return completed
