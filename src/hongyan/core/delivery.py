"""What channels hand back, committed: delivery receipts and replies.

`DeliverySink` is the `ChannelSink` every channel is started with; each call
returns once the item is committed, so the channel may acknowledge it then.
`Housekeeper` tidies what they leave waiting: long replies whose last parts
never came, receipts whose part never turned up; and the failed logins whose
lockout window is over.
"""

from __future__ import annotations

import asyncio
import logging

from hongyan import metrics
from hongyan.config import Settings
from hongyan.core.models import InboundFragment, InboundReply, Receipt
from hongyan.core.partitions import DAY_MS
from hongyan.errors import StoreError
from hongyan.store import delivery, drafts, partitions, retention, system
from hongyan.store import replies as reply_store
from hongyan.store import sessions as session_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.tasks import cancel

log = logging.getLogger(__name__)


class DeliverySink:
    def __init__(self, db: Database, gateway_prefix: str, reply_parts_wait_s: float = 300) -> None:
        self._db = db
        self._gateway_prefix = gateway_prefix
        self._wait_ms = int(reply_parts_wait_s * 1000)

    async def receipt(self, channel: str, receipt: Receipt) -> None:
        latency_ms = await self._db.write(delivery.record_receipts, (channel, receipt))
        if latency_ms is not None:
            metrics.RECEIPT_LATENCY.labels(channel).observe(max(0, latency_ms) / 1000)

    async def reply(self, channel: str, reply: InboundReply) -> None:
        incoming = reply_store.IncomingReply(channel, reply, self._gateway_prefix)
        owner = await self._db.write(reply_store.record, incoming)
        metrics.REPLIES.labels("attributed" if owner is not None else "unattributed").inc()
        if owner is None:
            log.warning("reply to a gateway number of no account", extra={"gateway": reply.gateway})

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None:
        part = reply_store.IncomingFragment(channel, fragment, self._gateway_prefix, self._wait_ms)
        await self._db.write(reply_store.record_fragment, part)


# Failed-login rows deleted per transaction: a guesser with made-up uids
# leaves many, and one large delete would hold the writer from requests.
PRUNE_BATCH = 1000
# History past retention: messages (or replies) a transaction, and at most so
# many transactions a housekeeping run (100,000 a run: far above a day's
# traffic spread over the runs of a day).
RETENTION_BATCH = 500
RETENTION_BATCHES = 200
# PostgreSQL's partitions are looked after every so often, not every run.
PARTITIONS_EVERY_MS = 300_000


class Housekeeper:
    """Every `housekeeping_s`: long replies past `reply_parts_wait_s` are
    recorded with the parts that came; early receipts past
    `early_receipts_keep_s` are deleted; failed logins older than the
    lockout window (and holding no lock) are deleted, in batches. History
    past `retention_days` goes: on SQLite by row deletes in batches
    (store/retention.py); on PostgreSQL, every PARTITIONS_EVERY_MS, a
    partition at a time, with the coming days' partitions made ahead
    (store/partitions.py)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock = now_ms,
        prune_batch: int = PRUNE_BATCH,
    ) -> None:
        self._settings = settings
        self._db = db
        self._clock = clock
        self._prune_batch = prune_batch
        self._task: asyncio.Task[None] | None = None
        self._partitions_due = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def run_once(self, now: int | None = None) -> tuple[int, int]:
        """Incomplete replies recorded, early receipts deleted."""
        s = self._settings
        now = self._clock() if now is None else now
        wait_ms, keep_ms = int(s.reply_parts_wait_s * 1000), int(s.early_receipts_keep_s * 1000)
        request = reply_store.FlushRequest(now, wait_ms, s.gateway_prefix)
        whole, partial = await self._db.write(reply_store.flush_fragments, request)
        pruned = await self._db.write(delivery.prune_early_receipts, now - keep_ms)
        if whole:
            log.info("long replies recorded by the sweep", extra={"count": whole})
        if partial:
            metrics.REPLIES.labels("incomplete").inc(partial)
            log.warning("long replies recorded without all their parts", extra={"count": partial})
        if pruned:
            log.info("early receipts never matched deleted", extra={"count": pruned})
        forgotten = await self.prune_failures(now)
        ended = await self._prune_sessions(now)
        if ended:
            log.info("console sessions past their timeouts deleted", extra={"count": ended})
        async with self._db.transaction() as conn:
            dropped = await drafts.prune(conn, now - s.console.draft_keep_s * 1000)
        if dropped:
            log.info("console send drafts never confirmed deleted", extra={"count": dropped})
        if forgotten:
            log.info("expired failed logins deleted", extra={"count": forgotten})
        if self._db.is_sqlite:
            messages_gone, replies_gone = await self.prune_rows(now)
            if messages_gone or replies_gone:
                log.info(
                    "history past retention deleted",
                    extra={"messages": messages_gone, "replies": replies_gone},
                )
        elif now >= self._partitions_due:
            await self.keep_partitions(now)
        return partial, pruned

    async def keep_partitions(self, now: int | None = None) -> partitions.Dropped:
        """PostgreSQL: the coming days' partitions made, and those wholly
        past `retention_days` dropped where all their rows may go. A step
        another statement held its lock too long for waits for the next run."""
        now = self._clock() if now is None else now
        self._partitions_due = now + PARTITIONS_EVERY_MS
        days = self._settings.retention_days
        try:
            made = await partitions.make_ahead(self._db.transaction, self._settings.partition_days)
            if made:
                log.info("partitions made ahead", extra={"periods": made})
            if days:
                return await partitions.drop_expired(self._db.transaction, now - int(days * DAY_MS))
        except StoreError as exc:
            if not partitions.lock_waited(exc):
                raise
            log.info("partition upkeep waited too long for a lock: next run")
            self._partitions_due = now
        return partitions.Dropped(0, 0, 0, 0)

    async def prune_rows(self, now: int | None = None) -> tuple[int, int]:
        """Messages and replies past `retention_days` deleted, a batch a
        transaction, at most RETENTION_BATCHES batches a run; how many of
        each went. SQLite's retention (PostgreSQL drops partitions)."""
        days = self._settings.retention_days
        if not days:
            return 0, 0
        now = self._clock() if now is None else now
        request = retention.Prune(now - int(days * DAY_MS), RETENTION_BATCH)
        counts = []
        for handler in (retention.prune_messages, retention.prune_replies):
            total = 0
            for _ in range(RETENTION_BATCHES):
                gone = await self._db.write(handler, request)
                total += gone
                if gone < request.batch:
                    break
            counts.append(total)
        return counts[0], counts[1]

    async def prune_failures(self, now: int | None = None) -> int:
        """Delete the failed-login rows whose window is over, a batch per
        transaction until none is left; how many went."""
        now = self._clock() if now is None else now
        request = system.PruneRequest(
            now, self._settings.lockout_window_s * 1000, self._prune_batch
        )
        total = 0
        while True:
            deleted = await self._db.write(system.prune_failures, request)
            total += deleted
            if deleted < request.batch:
                return total

    async def _prune_sessions(self, now: int) -> int:
        console = self._settings.console
        async with self._db.transaction() as conn:
            return await session_store.prune(
                conn, now - console.idle_timeout_s * 1000, now - console.max_age_s * 1000
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.housekeeping_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed")
