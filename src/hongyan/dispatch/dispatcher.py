"""The dispatcher: claim due messages under a lease, submit, record what came of it.

One loop per process. It claims a batch of due messages (a lease, renewed
while the dispatcher holds them, so another dispatcher, or this one after a
crash, takes them again only once it expires), routes each to a channel,
submits the parts not yet accepted (paced to the channel's parts-a-second
limit), and records every outcome in the group-commit writer. Temporary
errors come back after an exponential backoff with jitter until the
message's time to live runs out (then EXPIRED); permanent ones end the
message with the upstream's code. While the operator has paused sending,
nothing is claimed; while a channel is paused, routing passes it over (to
the route's failover) and what only it could take is given back to wait
(`PAUSE_HOLD_S`), not failed. Claiming, submitting and recording run as a pipeline
(see `_run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Mapping
from functools import partial

from hongyan import metrics, throughput
from hongyan.channels.base import Channel, ChannelUnavailable, Part, SubmitOutcome
from hongyan.config import Settings
from hongyan.core import channel_figures, extensions
from hongyan.core.channel_control import PausedChannels
from hongyan.core.gates import Gatekeeper
from hongyan.core.limits import Pacer
from hongyan.core.models import Claimed, MessageOutcome, PartOutcome
from hongyan.core.retry import backoff_ms
from hongyan.core.states import ChannelState
from hongyan.dispatch.routing import Router
from hongyan.dispatch.status import StatusReporter
from hongyan.store import channel_controls, delivery
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.engine import Clock, now_ms
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

DOWN = "DOWN"
# On stop, how long the rounds in flight get to finish submitting and record
# what they submitted (a part accepted upstream but not recorded would be
# submitted again once its lease expires).
STOP_GRACE_S = 10.0
# How long messages for a paused channel wait before they are claimed again
# (and how soon after a resume they go).
PAUSE_HOLD_S = 2.0


class _Round:
    """One claimed batch on its way: submitting, then recording."""

    def __init__(self, dispatcher: Dispatcher, groups: dict[str, list[Claimed]]) -> None:
        self.submitted = asyncio.Event()
        self.task = asyncio.create_task(
            dispatcher._submit_groups(groups, self.submitted), name="dispatch-round"
        )


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        gates: Gatekeeper,
        channels: Mapping[str, Channel],
        router: Router,
        clock: Clock = now_ms,
    ) -> None:
        self._settings = settings
        # Wall-clock time of claims, leases and retries (pacing keeps to time.monotonic).
        self._clock = clock
        self._db = db
        self._gates = gates
        self._channels = channels
        self._router = router
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._status_task: asyncio.Task[None] | None = None
        # Per channel that the dispatcher paces: its parts-a-second bucket.
        self._pacers: dict[str, Pacer] = {}
        self._rounds: set[asyncio.Task[None]] = set()
        # Messages claimed whose outcome is not yet recorded: their leases are
        # renewed, since a round may wait for the one before (a paced channel)
        # longer than a lease lasts.
        self._held: dict[int, int] = {}  # message id: its claim (Claimed.attempts)
        self._lease_task: asyncio.Task[None] | None = None
        self.submitted = 0
        # The channels an operator paused (core/channel_control.py), polled.
        self.paused = PausedChannels(db, settings.reload_interval_s)
        self._paused_task: asyncio.Task[None] | None = None
        # For the channel page: submits not taken, per channel; receipts' figures.
        self._errors: dict[str, int] = defaultdict(int)
        figures = channel_figures.figures_for_url(settings.database_url)
        self.reporter = StatusReporter(db, channels, self._errors, figures, clock)
        self._live = throughput.counts_for_url(settings.database_url)

    def notify(self) -> None:
        """New messages were accepted: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        for name, channel in self._channels.items():
            parts = await self._db.read_sync(partial(delivery.sent_parts, channel=name))
            if parts:
                await channel.resume(parts)
        await self.paused.refresh()
        self._paused_task = asyncio.create_task(self.paused.keep_fresh(), name="channel-pauses")
        self._task = asyncio.create_task(self._run(), name="dispatcher")
        self._status_task = asyncio.create_task(self.reporter.run(), name="channel-status")
        self._lease_task = asyncio.create_task(self._renew_leases(), name="dispatch-leases")

    async def stop(self) -> None:
        """Claim nothing more; let the rounds in flight finish (within a grace
        period), so what went on the wire is recorded."""
        await cancel(self._task, self._status_task)
        self._task = self._status_task = None
        if self._rounds:
            done, late = await asyncio.wait(set(self._rounds), timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            for task in done:
                await self._settle(task)
        await cancel(self._lease_task, self._paused_task)
        self._lease_task = self._paused_task = None

    async def _renew_leases(self) -> None:
        lease_ms = int(self._settings.lease_s * 1000)
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            if not self._held:
                continue
            renewal = delivery.LeaseRenewal(tuple(self._held.items()), self._clock() + lease_ms)
            try:
                await self._db.write(delivery.renew_leases, renewal)
            except Exception:
                log.exception("renewing dispatch leases failed")

    async def _run(self) -> None:
        """Rounds in a pipeline: while one round's parts are on the wire, the
        next batch is claimed and the round before is recorded. At most two
        rounds are alive at once, and a round starts submitting only once the
        one before has finished, so the wire order is the claim order and a
        channel's pace holds across rounds."""
        current: _Round | None = None  # on the wire, or recording
        recording: _Round | None = None  # the one before it
        while True:
            groups = await self._claim_and_route()
            if groups:
                if current is not None:
                    await current.submitted.wait()
                if recording is not None:
                    await self._settle(recording)
                recording, current = current, _Round(self, groups)
                self._rounds.add(current.task)
                current.task.add_done_callback(self._rounds.discard)
                continue
            if current is not None or recording is not None:
                # Their outcomes may make more messages due (or free leases):
                # look again once they are recorded, before waiting.
                for done in (recording, current):
                    if done is not None:
                        await self._settle(done)
                current = recording = None
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.dispatch_poll_s)

    async def _claim_and_route(self) -> dict[str, list[Claimed]]:
        """The next batch by channel; none when there is nothing to do or
        claiming or routing failed (whatever was claimed then waits for its
        lease to expire)."""
        claimed: list[Claimed] = []
        try:
            while True:
                claimed = await self._claim()
                if not claimed:
                    return {}
                groups = await self._route_or_hold(claimed)
                if groups:
                    return groups
                # All for paused channels: held back; the next due ones may go.
        except Exception:
            log.exception("dispatch round failed")
            self._release(claimed)
            return {}

    @staticmethod
    async def _settle(done: _Round | asyncio.Task[None]) -> None:
        """Wait for a round to end and log its failure. Waiting through
        asyncio.wait: cancelling the waiter (stop) must not cancel the round,
        which `stop` gives its grace period to finish and record."""
        task = done.task if isinstance(done, _Round) else done
        await asyncio.wait({task})
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("dispatch round failed", exc_info=error)

    async def dispatch_once(self) -> bool:
        """Claim, submit and record one batch; whether there was anything to do."""
        claimed = await self._claim()
        if not claimed:
            return False
        await self._submit_groups(await self._route_or_hold(claimed))
        return True

    async def _claim(self) -> list[Claimed]:
        if self._gates.paused:
            return []
        s = self._settings
        claimed = await self._db.write(
            delivery.claim, ClaimRequest(self._clock(), int(s.lease_s * 1000), s.dispatch_batch)
        )
        self._held.update((m.id, m.attempts) for m in claimed)
        return claimed

    async def _route_or_hold(self, claimed: list[Claimed]) -> dict[str, list[Claimed]]:
        """The claimed messages by channel; those whose channel is paused are
        given back to wait (their claims released, due again in PAUSE_HOLD_S)."""
        by_channel = self._route(claimed)
        paused = {name: by_channel.pop(name) for name in self.paused.names & set(by_channel)}
        if paused:
            due_at = self._clock() + int(PAUSE_HOLD_S * 1000)
            holds = [
                channel_controls.Hold(tuple(m.id for m in group), name, due_at)
                for name, group in paused.items()
            ]
            try:
                await asyncio.gather(*(self._db.write(channel_controls.hold, h) for h in holds))
            finally:
                # Given back, or left for their leases to expire.
                for group in paused.values():
                    self._release(group)
        return by_channel

    def _release(self, claimed: list[Claimed]) -> None:
        """No longer held here: their leases are not renewed any more."""
        for m in claimed:
            self._held.pop(m.id, None)

    def _route(self, claimed: list[Claimed]) -> dict[str, list[Claimed]]:
        paused = self.paused.names
        up_now = {
            name
            for name, c in self._channels.items()
            if c.status().state != ChannelState.DOWN and name not in paused
        }
        by_channel: dict[str, list[Claimed]] = defaultdict(list)
        for message in claimed:
            # A message part-way through stays on its channel: the parts it
            # still needs follow the reference and segmentation of the first.
            if message.submitted_seqs and message.channel in self._channels:
                by_channel[message.channel].append(message)
            else:
                by_channel[self._router.route(message, up_now.__contains__)].append(message)
        return by_channel

    async def _submit_groups(
        self, groups: dict[str, list[Claimed]], submitted: asyncio.Event | None = None
    ) -> None:
        """Submit each channel's group side by side, then record every outcome;
        `submitted` is set once nothing of this round is left to go on the wire."""
        try:
            try:
                # Each channel's group on its own: one failing leaves the
                # others' outcomes to record (else their parts would go twice).
                results = await asyncio.gather(
                    *(self._submit(name, group) for name, group in groups.items()),
                    return_exceptions=True,
                )
            finally:
                # Even when submitting failed: the next round must not wait forever.
                if submitted is not None:
                    submitted.set()
            outcomes: list[MessageOutcome] = []
            for name, result in zip(groups, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    log.error("submitting to %s failed", name, exc_info=result)
                else:
                    outcomes += result
            await asyncio.gather(*(self._db.write(delivery.record_outcomes, o) for o in outcomes))
        finally:
            # Recorded, or left for their leases to expire.
            for group in groups.values():
                self._release(group)

    async def _submit(self, name: str, messages: list[Claimed]) -> list[MessageOutcome]:
        s = self._settings
        channel = self._channels[name]
        parts: list[Part] = []
        for m in messages:
            texts = channel.segments(m.content)
            parts += [
                Part(
                    message_id=m.id,
                    seq=seq,
                    total=len(texts),
                    destination=m.mobile,
                    source=extensions.gateway_number(s.gateway_prefix, m.source),
                    text=text,
                    extension=m.source,
                )
                for seq, text in enumerate(texts, 1)
                if seq not in m.submitted_seqs
            ]
        outcomes, times = await self._paced_submit(channel, parts)
        now = self._clock()
        results = {m.id: self._outcome(name, m, now) for m in messages}
        for result in results.values():
            result.receipt_scope = channel.receipt_scope
        billed = {m.id: m.parts for m in messages}
        counted: dict[str, int] = defaultdict(int)
        for part, outcome, at in zip(parts, outcomes, times, strict=True):
            results[part.message_id].parts.append(
                PartOutcome(
                    seq=part.seq,
                    upstream_id=outcome.upstream_id,
                    error=outcome.error,
                    temporary=outcome.temporary,
                    at=at,
                    total=part.total if part.total != billed[part.message_id] else 0,
                )
            )
            self.submitted += outcome.accepted
            self._errors[name] += not outcome.accepted
            kind = (
                "accepted" if outcome.accepted else "temporary" if outcome.temporary else "refused"
            )
            counted[kind] += 1
        for kind, count in counted.items():
            metrics.SUBMITS.labels(name, kind).inc(count)
        self._live.add(throughput.SUBMITTED, counted["accepted"])
        return list(results.values())

    async def _paced_submit(
        self, channel: Channel, parts: list[Part]
    ) -> tuple[list[SubmitOutcome], list[int]]:
        """Submit in order within the channel's parts-a-second limit, which holds
        across batches; what a down channel could not take is a temporary error.
        Each outcome comes with the time its part was submitted."""
        outcomes: list[SubmitOutcome] = []
        times: list[int] = []
        start = 0
        paces_itself = channel.status().paces_itself
        while start < len(parts):
            if paces_itself:
                take = len(parts) - start
            else:
                take = await self._allowance(channel, len(parts) - start)
            at = self._clock()
            try:
                outcomes += await channel.submit(parts[start : start + take])
            except ChannelUnavailable as exc:
                log.info("channel unavailable", extra={"channel": channel.name, "reason": str(exc)})
                take = len(parts) - start
                outcomes += [SubmitOutcome(error=DOWN, temporary=True)] * take
            times += [at] * take
            start += take
        return outcomes, times

    async def _allowance(self, channel: Channel, wanted: int) -> int:
        """How many parts may go now (at least one); waits until one may."""
        tps = channel.status().tps
        if not tps:
            return wanted
        while True:
            now = time.monotonic()
            pacer = self._pacers.get(channel.name, Pacer(now))
            granted, wait_s, self._pacers[channel.name] = pacer.take(tps, wanted, now)
            if granted:
                return granted
            await asyncio.sleep(wait_s)

    def _outcome(self, channel: str, message: Claimed, now: int) -> MessageOutcome:
        s = self._settings
        wait_ms = backoff_ms(message.attempts, s.retry_base_s, s.retry_max_s, random.random())
        retry_at = now + wait_ms
        return MessageOutcome(
            message.id,
            channel,
            now,
            retry_at=retry_at,
            expires_at=message.created_at + int(s.message_ttl_s * 1000),
            attempt=message.attempts,
        )
