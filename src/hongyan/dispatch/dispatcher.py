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

With channel ownership (dispatch/ownership.py), this node submits only on
the channels it holds: it claims the messages routed to them and those not
routed yet, and hands a message routed to another node's channel over to
it (routed there, its claim given back). A channel's owner does its
failover: a message for a channel down or paused is routed again there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from functools import partial

from hongyan.channels.base import Channel
from hongyan.config import Settings
from hongyan.core import channel_figures
from hongyan.core.channel_control import PausedChannels
from hongyan.core.gates import Gatekeeper
from hongyan.core.models import Claimed
from hongyan.core.states import ChannelState
from hongyan.dispatch.ownership import ChannelOwnership
from hongyan.dispatch.routing import Router
from hongyan.dispatch.status import StatusReporter
from hongyan.dispatch.submit import Submitter
from hongyan.store import channel_controls, delivery
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.engine import Clock, now_ms
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

# On stop, how long the rounds in flight get to finish submitting and record
# what they submitted (a part accepted upstream but not recorded would be
# submitted again once its lease expires).
STOP_GRACE_S = 10.0
# How long messages for a paused channel wait before they are claimed again
# (and how soon after a resume they go).
PAUSE_HOLD_S = 2.0
# A message handed over to another node's channel goes at once the first
# time; one handed on again (nodes' views of which channels are up differ
# until the next status report) waits this long, so it cannot bounce fast.
HANDOVER_AGAIN_S = 1.0


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
        ownership: ChannelOwnership | None = None,
    ) -> None:
        self._settings = settings
        # None: this dispatcher is alone and uses every channel.
        self._ownership = ownership
        # Wall-clock time of claims, leases and retries (pacing keeps to time.monotonic).
        self._clock = clock
        self._db = db
        self._gates = gates
        self._channels = channels
        self._router = router
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._status_task: asyncio.Task[None] | None = None
        self._rounds: set[asyncio.Task[None]] = set()
        # Messages claimed whose outcome is not yet recorded: their leases are
        # renewed, since a round may wait for the one before (a paced channel)
        # longer than a lease lasts.
        self._held: dict[int, int] = {}  # message id: its claim (Claimed.attempts)
        self._lease_task: asyncio.Task[None] | None = None
        # The channels an operator paused (core/channel_control.py), polled.
        self.paused = PausedChannels(db, settings.reload_interval_s)
        self._paused_task: asyncio.Task[None] | None = None
        self._submitter = Submitter(settings, db, channels, self._may_use, clock)
        # For the channel page: receipts' figures; submits not taken (counted submitting).
        figures = channel_figures.figures_for_url(settings.database_url)
        running = channels if ownership is None else ownership.running
        self.reporter = StatusReporter(db, running, self._submitter.errors, figures, clock)

    def notify(self) -> None:
        """New messages were accepted: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._ownership is None:
            for name, channel in self._channels.items():
                parts = await self._db.read_sync(partial(delivery.sent_parts, channel=name))
                if parts:
                    await channel.resume(parts)
        else:  # the owner resumes each channel as it takes it
            self._ownership.drain = self.drain
            self._ownership.on_usable = self.notify
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

    async def drain(self) -> None:
        """Wait until the rounds now in flight are recorded."""
        if self._rounds:
            await asyncio.wait(set(self._rounds))

    def _holding(self) -> list[str]:
        if self._ownership is None:
            return list(self._channels)
        return self._ownership.holding()

    def _may_use(self, name: str) -> bool:
        return self._ownership is None or self._ownership.holds(name)

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
        request = ClaimRequest(self._clock(), int(s.lease_s * 1000), s.dispatch_batch)
        if self._ownership is not None:
            owned = tuple(self._ownership.holding())
            if not owned:
                return []  # no channel here: this node's turn to deliver has not come
            request = request._replace(node=self._ownership.node, owned=owned)
        claimed = await self._db.write(delivery.claim, request)
        self._held.update((m.id, m.attempts) for m in claimed)
        return claimed

    async def _route_or_hold(self, claimed: list[Claimed]) -> dict[str, list[Claimed]]:
        """The claimed messages by channel of this node. Those whose channel is
        paused are given back to wait (their claims released, due again in
        PAUSE_HOLD_S); those routed to another node's channel are handed over
        to it (routed there, their claims released)."""
        by_channel = self._route(claimed)
        now = self._clock()
        holds: list[channel_controls.Hold] = []
        given: list[list[Claimed]] = []
        for name in list(by_channel):
            if name in self.paused.names:
                group = by_channel.pop(name)
                holds.append(channel_controls.Hold(_ids(group), name, now + _ms(PAUSE_HOLD_S)))
                given.append(group)
            elif not self._may_use(name):
                group = by_channel.pop(name)
                first = [m for m in group if not m.channel]
                again = [m for m in group if m.channel]
                for part, due_at in ((first, now), (again, now + _ms(HANDOVER_AGAIN_S))):
                    if part:
                        holds.append(channel_controls.Hold(_ids(part), name, due_at))
                given.append(group)
        if holds:
            try:
                await asyncio.gather(*(self._db.write(channel_controls.hold, h) for h in holds))
            finally:
                # Given back, or left for their leases to expire.
                for group in given:
                    self._release(group)
        return by_channel

    def _release(self, claimed: list[Claimed]) -> None:
        """No longer held here: their leases are not renewed any more."""
        for m in claimed:
            self._held.pop(m.id, None)

    def _route(self, claimed: list[Claimed]) -> dict[str, list[Claimed]]:
        paused = self.paused.names
        here = self._holding()
        # Up: this node's channels as they are; another node's as it last
        # reported them (up until it reports otherwise).
        up_now = {
            name
            for name, c in self._channels.items()
            if name not in paused
            and (
                c.status().state != ChannelState.DOWN
                if name in here
                else name not in self.reporter.reported_down
            )
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
        """Submit each channel's group side by side, and record every outcome
        (dispatch/submit.py); `submitted` is set once nothing of this round
        is left to go on the wire."""
        try:
            try:
                # Each channel's group on its own: one failing leaves the
                # others' outcomes to record (else their parts would go twice).
                results = await asyncio.gather(
                    *(self._submitter.submit(name, group) for name, group in groups.items()),
                    return_exceptions=True,
                )
            finally:
                # Even when submitting failed: the next round must not wait forever.
                if submitted is not None:
                    submitted.set()
            recordings: list[asyncio.Task[None]] = []
            for name, result in zip(groups, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    log.error("submitting to %s failed", name, exc_info=result)
                else:
                    recordings += result
            await asyncio.gather(*recordings)
        finally:
            # Recorded, or left for their leases to expire.
            for group in groups.values():
                self._release(group)


def _ids(group: list[Claimed]) -> tuple[int, ...]:
    return tuple(m.id for m in group)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
