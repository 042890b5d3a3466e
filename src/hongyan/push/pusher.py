"""The pusher: reports and replies from the outbox to customers' servers, at least once.

One loop claims due outbox rows under a lease; each account's items of one
kind form a stream, pushed one request at a time in outbox order, so a
healthy receiver sees them in the order they happened. Streams run side by
side; what one customer's server does cannot hold up another's:
- every request has a connect timeout and an overall deadline;
- each host has its own limit of requests in flight, and its own circuit
  breaker: after consecutive failures the host is left alone (its rows are
  moved past the open period) and then probed with one request;
- an account holds at most `per_account_held` items in memory, so a slow
  host's backlog never crowds others out of a claim.
A failed item is retried with exponential backoff and jitter; once it is
older than `give_up_s` it is given up and handed to `/st/` or `/rx/`.
Outcomes are written in batches; held rows have their lease renewed, and a
restart (or a crash, once the lease runs out) takes them up again.

How one request goes out (the SSRF-approved address, the signature, the
deadline, no redirects) is sender.py's; the push secret only ever goes into
the signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

from yarl import URL

from hongyan import metrics
from hongyan.config import Settings
from hongyan.core.retry import backoff_ms
from hongyan.core.states import OutboxKind, PushResult
from hongyan.push.policy import Breaker, host_key
from hongyan.push.sender import Answer, PushFailure, Sender
from hongyan.push.targets import (
    Resolver,
    system_resolver,
)
from hongyan.store import push as outbox
from hongyan.store import push_breakers
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.push import attempts as attempt_log
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

_STATUS_EVERY_S = 2.0
_FLUSH_EVERY_S = 0.05

StreamKey = tuple[int, str]


@dataclass
class _Host:
    breaker: Breaker
    slots: asyncio.Semaphore
    accounts: set[int] = field(default_factory=set)


@dataclass
class _Stream:
    items: deque[outbox.Claimed] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Pusher:
    def __init__(
        self, settings: Settings, db: Database, *, resolve: Resolver = system_resolver
    ) -> None:
        self._settings = settings.push
        self._db = db
        self._sender = Sender(settings.push, ZoneInfo(settings.timezone), resolve)
        self._rng = random.Random()
        self._streams: dict[StreamKey, _Stream] = {}
        self._hosts: dict[str, _Host] = {}
        self._held: dict[int, outbox.Claimed] = {}
        self._held_per_account: dict[int, int] = {}
        self._outcomes: list[outbox.Outcome] = []
        # What each request got, for the customer's "last deliveries"; written with the outcomes.
        self._attempts: list[attempt_log.Attempt] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    # -- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self._sender.open()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="push-claim"),
            asyncio.create_task(self._flush_loop(), name="push-flush"),
            asyncio.create_task(self._renew_loop(), name="push-renew"),
            asyncio.create_task(self._status_loop(), name="push-status"),
        ]

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop pushing; record what finished, give back what did not."""
        self._stopping = True
        streams = [s.task for s in self._streams.values() if s.task is not None]
        await cancel(*self._tasks, *streams)
        self._tasks = []
        decided = {o.id for o in self._outcomes}
        now = now_ms()
        for item in self._held.values():
            if item.id not in decided:
                self._outcomes.append(
                    outbox.Outcome(item.id, item.kind, item.item_id, PushResult.RELEASE, now)
                )
        await self._flush()
        self._streams.clear()
        await self._sender.close()

    # -- claiming --------------------------------------------------------------

    async def _claim_loop(self) -> None:
        lease_ms = int(self._settings.lease_s * 1000)
        while not self._stopping:
            try:
                request = outbox.ClaimRequest(
                    now_ms(), lease_ms, self._settings.claim_batch, self._skipped_accounts()
                )
                claimed = []
                if await self._db.read_sync(partial(outbox.due_exists, request=request)):
                    claimed = await self._db.write(outbox.claim, request)
            except Exception:
                log.exception("claiming push items failed")
                claimed = []
            for item in claimed:
                self._hold(item)
            if len(claimed) < self._settings.claim_batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.poll_s)
            else:
                await asyncio.sleep(0)

    def _skipped_accounts(self) -> tuple[int, ...]:
        """Accounts not to claim for now: holding enough already, or behind an open breaker."""
        now = time.monotonic()
        skipped = {
            account
            for account, held in self._held_per_account.items()
            if held >= self._settings.per_account_held
        }
        for host in self._hosts.values():
            if host.breaker.is_open(now):
                skipped |= host.accounts
        return tuple(sorted(skipped))

    def _hold(self, item: outbox.Claimed) -> None:
        if item.id in self._held:
            return
        self._held[item.id] = item
        self._held_per_account[item.account_id] = self._held_per_account.get(item.account_id, 0) + 1
        key = (item.account_id, item.kind)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        stream.items.append(item)
        if stream.task is None:
            stream.task = asyncio.create_task(self._run_stream(key, stream), name=f"push-{key}")

    def _decide(self, outcome: outbox.Outcome) -> None:
        """Queue an item's outcome for the next flush (it stays held until then)."""
        self._outcomes.append(outcome)

    # -- pushing ---------------------------------------------------------------

    async def _run_stream(self, key: StreamKey, stream: _Stream) -> None:
        batch: list[outbox.Claimed] = []
        try:
            while stream.items and not self._stopping:
                batch = self._next_batch(stream)
                await self._push(stream, batch)
                batch = []
        except asyncio.CancelledError:
            raise
        except Exception:
            # A fault of ours, not the customer's: give the items back as they were.
            log.exception("push stream failed", extra={"account_id": key[0], "kind": key[1]})
            now = now_ms()
            for item in [*batch, *stream.items]:
                self._decide(
                    outbox.Outcome(item.id, item.kind, item.item_id, PushResult.RELEASE, now)
                )
            stream.items.clear()
        finally:
            stream.task = None
            if not stream.items and self._streams.get(key) is stream:
                del self._streams[key]

    def _next_batch(self, stream: _Stream) -> list[outbox.Claimed]:
        first = stream.items.popleft()
        batch = [first]
        if first.kind == OutboxKind.REPORT and first.batch and first.method == "POST":
            while (
                stream.items
                and len(batch) < self._settings.batch_max_lines
                and stream.items[0].url == first.url
            ):
                batch.append(stream.items.popleft())
        return batch

    async def _push(self, stream: _Stream, batch: list[outbox.Claimed]) -> None:
        first = batch[0]
        kind = first.kind
        if not first.url:
            self._settle(batch, PushFailure("off", "push turned off"), give_up_now=True)
            return
        try:
            host = self._host_of(first)
        except ValueError:
            self._settle(batch, PushFailure("refused", "the callback URL cannot be read"))
            return
        host.accounts.add(first.account_id)
        try:
            async with host.slots:
                # Asked once a slot is free: the breaker may have opened meanwhile.
                if not host.breaker.allows(time.monotonic()):
                    self._release_stream(stream, batch, host)
                    return
                answer = await self._sender.send(batch)
        except PushFailure as failure:
            metrics.PUSH_ATTEMPTS.labels(kind, failure.outcome).inc(len(batch))
            self._note(batch, failure.answer, failure.error)
            if not failure.host_fault:
                host.breaker.inconclusive()
            elif host.breaker.failed(time.monotonic()):
                await self._host_down(host, failure.error)
            self._settle(batch, failure)
            return
        metrics.PUSH_ATTEMPTS.labels(kind, PushResult.DELIVERED).inc(len(batch))
        self._note(batch, answer, "")
        now = now_ms()
        for item in batch:
            self._decide(
                outbox.Outcome(item.id, item.kind, item.item_id, PushResult.DELIVERED, at=now)
            )
        if host.breaker.succeeded():
            await self._host_up(host)

    def _note(self, batch: Sequence[outbox.Claimed], answer: Answer | None, error: str) -> None:
        """Keep what one request got (written at the next flush, with the outcomes)."""
        first = batch[0]
        url = URL(first.url)
        host = url.host or ""
        if url.port is not None and not url.is_default_port():
            host = f"{host}:{url.port}"
        self._attempts.append(
            attempt_log.Attempt(
                first.account_id,
                now_ms(),
                first.kind,
                host,
                None if answer is None else answer.status,
                error,
                "" if answer is None else answer.head,
                len(batch),
            )
        )

    def _settle(
        self, batch: Sequence[outbox.Claimed], failure: PushFailure, *, give_up_now: bool = False
    ) -> None:
        """A failed attempt: retry later, or give up on what is too old to retry."""
        now = now_ms()
        deadline_ms = self._settings.give_up_s * 1000
        for item in batch:
            if give_up_now or now - item.created_at >= deadline_ms:
                metrics.PUSH_GIVEN_UP.labels(item.kind).inc()
                log.warning(
                    "push given up; the item goes back to the pull endpoint",
                    extra={"uid": item.uid, "kind": item.kind, "error": failure.error},
                )
                outcome = outbox.Outcome(
                    item.id, item.kind, item.item_id, PushResult.GIVE_UP, now, failure.error, now
                )
            else:
                s = self._settings
                draw = self._rng.random()
                delay_ms = backoff_ms(item.attempts + 1, s.retry_base_s, s.retry_max_s, draw)
                outcome = outbox.Outcome(
                    item.id,
                    item.kind,
                    item.item_id,
                    PushResult.RETRY,
                    now + delay_ms,
                    failure.error,
                    now,
                )
            self._decide(outcome)

    # -- hosts -------------------------------------------------------------------

    def _host_of(self, item: outbox.Claimed) -> _Host:
        key = host_key(item.url)
        host = self._hosts.get(key)
        if host is None:
            s = self._settings
            breaker = Breaker(s.breaker_failures, s.breaker_open_s, s.breaker_max_open_s)
            host = self._hosts[key] = _Host(breaker, asyncio.Semaphore(s.per_host_concurrency))
        return host

    def _release_stream(self, stream: _Stream, batch: list[outbox.Claimed], host: _Host) -> None:
        """The host's breaker is open: give the stream's items back until it may be tried."""
        now = now_ms()
        due = now + int(max(0.0, host.breaker.open_until - time.monotonic()) * 1000)
        items = [*batch, *stream.items]
        stream.items.clear()
        expired = [
            item for item in items if now - item.created_at >= self._settings.give_up_s * 1000
        ]
        if expired:  # never tried while the host was down, but out of time all the same
            self._settle(expired, PushFailure("breaker", "host unavailable (circuit open)"))
        expired_ids = {item.id for item in expired}
        for item in items:
            if item.id not in expired_ids:
                self._decide(
                    outbox.Outcome(item.id, item.kind, item.item_id, PushResult.RELEASE, due)
                )

    async def _host_down(self, host: _Host, error: str) -> None:
        """A breaker opened: move the host's waiting rows past the open period."""
        wait_s = max(0.0, host.breaker.open_until - time.monotonic())
        log.warning(
            "push host failing; pausing it",
            extra={"accounts": sorted(host.accounts), "error": error, "pause_s": round(wait_s, 1)},
        )
        now = now_ms()
        await self._reschedule(host, now + int(wait_s * 1000), now, earlier_only=False)

    async def _host_up(self, host: _Host) -> None:
        """A breaker closed: what backed off while the host was down is due now, in order."""
        log.info("push host recovered", extra={"accounts": sorted(host.accounts)})
        now = now_ms()
        await self._reschedule(host, now, now, earlier_only=True)
        self.wake()

    async def _reschedule(self, host: _Host, next_at: int, now: int, *, earlier_only: bool) -> None:
        request = outbox.Reschedule(tuple(sorted(host.accounts)), next_at, now, earlier_only)
        try:
            await self._db.write(outbox.reschedule, request)
        except Exception:
            log.exception("rescheduling push items failed")

    async def _save_breakers(self) -> None:
        """Each host's breaker to the store, for the operators' system page
        (another process): it lives only in this process's memory."""
        if not self._hosts:
            return
        mono, wall = time.monotonic(), now_ms()
        rows = []
        for key, host in self._hosts.items():
            b = host.breaker
            open_until = wall + int((b.open_until - mono) * 1000) if b.open_until > mono else 0
            rows.append(
                push_breakers.BreakerRow(key, b.state(mono), b.failures, b.trips, open_until, wall)
            )
        await self._db.write(push_breakers.save, rows)

    # -- bookkeeping -------------------------------------------------------------

    async def _flush(self) -> None:
        if self._attempts:
            attempts, self._attempts = self._attempts, []
            try:
                await self._db.write(attempt_log.record, attempts)
            except Exception:
                # Only the customer's view of past requests: not worth holding items for.
                log.exception("recording push attempts failed", extra={"count": len(attempts)})
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        try:
            await self._db.write(outbox.record, outcomes)
        except Exception:
            # Kept held: their leases run out and they are claimed again.
            log.exception("recording push outcomes failed", extra={"count": len(outcomes)})
            self._outcomes[:0] = outcomes
            return
        for outcome in outcomes:
            item = self._held.pop(outcome.id, None)
            if item is not None:
                left = self._held_per_account[item.account_id] - 1
                if left:
                    self._held_per_account[item.account_id] = left
                else:
                    del self._held_per_account[item.account_id]

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_EVERY_S)
            await self._flush()

    async def _renew_loop(self) -> None:
        interval = self._settings.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            if self._held:
                until = now_ms() + int(self._settings.lease_s * 1000)
                try:
                    await self._db.write(outbox.renew, outbox.Renewal(tuple(self._held), until))
                except Exception:
                    log.exception("renewing push leases failed")

    async def _status_loop(self) -> None:
        while True:
            try:
                oldest = await self._db.read_sync(outbox.oldest_queued)
                age = 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)
                metrics.PUSH_OLDEST_AGE.set(age)
                metrics.PUSH_HELD.set(len(self._held))
            except Exception:
                log.exception("reading the push outbox's age failed")
            try:
                await self._save_breakers()
            except Exception:
                log.exception("saving the push hosts' breakers failed")
            await asyncio.sleep(_STATUS_EVERY_S)
