"""The operators' system page: the queue, the push outbox per host with its
breaker, the switches and the keywords.

The pusher's breakers live in the worker's memory; the pusher writes them
to push_breakers every few seconds (push/pusher.py), and this page reads
that: a row older than `BREAKER_STALE_MS` means the pusher is not running,
and the breaker is shown as unknown. The outbox's counts are per account
and kind (store/push/status.py), summed here by the host of the account's
callback URL, keyed as the pusher keys its breakers (push/policy.host_key).
The switches and keywords are core/admin.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.push.policy import host_key
from hongyan.store import push as push_store
from hongyan.store import push_breakers
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.queue import QueueCounts, queue_counts

BREAKER_STALE_MS = 30_000
UNKNOWN = "unknown"
NO_URL = ""  # the outbox rows of accounts whose push is now off


@dataclass(frozen=True, slots=True)
class HostView:
    host: str  # scheme://host:port; "" for rows whose account's push is off
    accounts: int
    queued: int
    retrying: int
    given_up: int
    breaker: str  # closed, open, probing, or unknown (the pusher has not reported it lately)
    failures: int  # consecutive failures the breaker counted
    open_until: int | None  # wall clock ms, while open
    breaker_seen_at: int | None
    last_error: str


@dataclass(frozen=True, slots=True)
class SystemView:
    queue: QueueCounts
    hosts: tuple[HostView, ...]
    switches: dict[str, bool]
    keywords: tuple[str, ...]


def _host(url: str) -> str:
    if not url:
        return NO_URL
    try:
        return host_key(url)
    except ValueError:
        return NO_URL


def outbox_by_host(
    streams: list[push_store.StreamStatus],
    breakers: dict[str, push_breakers.BreakerRow],
    now: int,
) -> tuple[HostView, ...]:
    """Sum the streams by host and put each host's breaker beside it."""
    sums: dict[str, list[int]] = {}
    accounts: dict[str, set[str]] = {}
    errors: dict[str, tuple[int, str]] = {}
    for s in streams:
        key = _host(s.url)
        row = sums.setdefault(key, [0, 0, 0])
        row[0] += s.queued
        row[1] += s.retrying
        row[2] += s.given_up
        accounts.setdefault(key, set()).add(s.uid)
        if s.last_error and (s.last_attempt_at or 0) >= errors.get(key, (-1, ""))[0]:
            errors[key] = (s.last_attempt_at or 0, s.last_error)
    fresh = {h: b for h, b in breakers.items() if now - b.updated_at <= BREAKER_STALE_MS}
    views = []
    for key in sorted(set(sums) | set(fresh)):
        queued, retrying, given_up = sums.get(key, (0, 0, 0))
        b = fresh.get(key)
        views.append(
            HostView(
                host=key,
                accounts=len(accounts.get(key, ())),
                queued=queued,
                retrying=retrying,
                given_up=given_up,
                breaker=b.state if b is not None else UNKNOWN,
                failures=b.failures if b is not None else 0,
                open_until=b.open_until or None if b is not None else None,
                breaker_seen_at=b.updated_at if b is not None else None,
                last_error=errors.get(key, (0, ""))[1],
            )
        )
    return tuple(views)


async def system_view(
    settings: Settings, db: Database, actor: Actor, now: int | None = None
) -> SystemView:
    """What the system page shows (reading: every role may)."""
    now = now_ms() if now is None else now
    queue = await db.read_sync(lambda conn: queue_counts(conn, now))
    streams = await db.read_sync(push_store.status)
    breakers = await db.read_sync(push_breakers.read_all)
    operator = Operator(settings, db, actor=actor)
    return SystemView(
        queue=queue,
        hosts=outbox_by_host(streams, breakers, now),
        switches=await operator.switches(),
        keywords=tuple(await operator.keywords()),
    )
