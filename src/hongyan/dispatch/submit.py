"""Submitting one channel's claimed messages, and recording what came of it.

The parts go in claim order, paced to the channel's parts-a-second limit
(by the dispatcher, or by a channel that paces itself). A channel over
binds is given each message on its own, side by side (its windows and pace
keep the order), and each message's outcome goes to the group-commit writer
as soon as its parts are answered, while later ones are still on the wire:
a node killed mid-batch leaves about its windows' worth submitted but not
recorded (to go again once their claims run out), plus what the commit in
progress holds, not the whole batch. The simulator's batch goes whole.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping

from hongyan import metrics, throughput
from hongyan.channels.base import Channel, ChannelUnavailable, Part, SubmitOutcome
from hongyan.config import Settings
from hongyan.core import extensions
from hongyan.core.limits import Pacer
from hongyan.core.models import Claimed, MessageOutcome, PartOutcome
from hongyan.core.retry import backoff_ms
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.engine import Clock

log = logging.getLogger(__name__)

DOWN = "DOWN"


class Submitter:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        channels: Mapping[str, Channel],
        may_use: Callable[[str], bool],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._db = db
        self._channels = channels
        self._may_use = may_use  # whether this node still holds a channel
        self._clock = clock
        # Per channel that the dispatcher paces: its parts-a-second bucket.
        self._pacers: dict[str, Pacer] = {}
        self.submitted = 0
        # For the channel page: submits not taken, per channel.
        self.errors: dict[str, int] = defaultdict(int)
        self._live = throughput.counts_for_url(settings.database_url)

    async def submit(self, name: str, messages: list[Claimed]) -> list[asyncio.Task[None]]:
        """Submit `messages` through channel `name`; returns once every part
        has its answer, with the recordings of their outcomes (some done)."""
        channel = self._channels[name]
        wanted = self._parts(channel, messages)
        status = channel.status()
        whole = [wanted] if wanted else []
        chunks = [[message] for message in wanted] if status.binds else whole
        recordings: list[asyncio.Task[None]] = []

        async def chunk(group: list[tuple[Claimed, list[Part]]]) -> None:
            outcomes = await self._submit_chunk(name, channel, group, status.paces_itself)
            recordings.append(asyncio.create_task(self._record(outcomes), name="dispatch-record"))

        results = await asyncio.gather(*(chunk(c) for c in chunks), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*recordings, return_exceptions=True)
            raise failed[0]
        return recordings

    async def _record(self, outcomes: list[MessageOutcome]) -> None:
        await asyncio.gather(*(self._db.write(delivery.record_outcomes, o) for o in outcomes))

    def _parts(self, channel: Channel, messages: list[Claimed]) -> list[tuple[Claimed, list[Part]]]:
        """Each message with the parts it still needs, as the channel cuts it."""
        prefix = self._settings.gateway_prefix
        wanted = []
        for m in messages:
            texts = channel.segments(m.content)
            source = extensions.gateway_number(prefix, m.source)
            parts = [
                Part(m.id, seq, len(texts), m.mobile, source, text, extension=m.source)
                for seq, text in enumerate(texts, 1)
                if seq not in m.submitted_seqs
            ]
            wanted.append((m, parts))
        return wanted

    async def _submit_chunk(
        self,
        name: str,
        channel: Channel,
        group: list[tuple[Claimed, list[Part]]],
        paces_itself: bool,
    ) -> list[MessageOutcome]:
        parts = [part for _, message_parts in group for part in message_parts]
        outcomes, times = await self._paced_submit(channel, parts, paces_itself)
        now = self._clock()
        results = {m.id: self._outcome(name, m, now) for m, _ in group}
        for result in results.values():
            result.receipt_scope = channel.receipt_scope
        billed = {m.id: m.parts for m, _ in group}
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
            self.errors[name] += not outcome.accepted
            kind = (
                "accepted" if outcome.accepted else "temporary" if outcome.temporary else "refused"
            )
            counted[kind] += 1
        for kind, count in counted.items():
            metrics.SUBMITS.labels(name, kind).inc(count)
        self._live.add(throughput.SUBMITTED, counted["accepted"])
        return list(results.values())

    async def _paced_submit(
        self, channel: Channel, parts: list[Part], paces_itself: bool
    ) -> tuple[list[SubmitOutcome], list[int]]:
        """Submit in order within the channel's parts-a-second limit, which holds
        across batches; what a down channel could not take is a temporary error.
        Each outcome comes with the time its part was submitted."""
        outcomes: list[SubmitOutcome] = []
        times: list[int] = []
        start = 0
        while start < len(parts):
            if not self._may_use(channel.name):
                # Its lease ran out meanwhile (this node stalled): not one more part.
                log.warning("channel no longer held here", extra={"channel": channel.name})
                take = len(parts) - start
                outcomes += [SubmitOutcome(error=DOWN, temporary=True)] * take
                times += [self._clock()] * take
                break
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
        return MessageOutcome(
            message.id,
            channel,
            now,
            retry_at=now + wait_ms,
            expires_at=message.created_at + int(s.message_ttl_s * 1000),
            attempt=message.attempts,
        )
