"""The dispatcher: claim due messages under a lease, submit, record what came of it.

One loop per process. It claims a batch of due messages (a lease, so another
dispatcher, or this one after a crash, takes them again only once the lease
expires), routes each to a channel, submits the parts not yet accepted, and
records every outcome in the group-commit writer. Temporary errors come back
after an exponential backoff with jitter until the message's time to live
runs out (then EXPIRED); permanent ones end the message with the upstream's
code. While the operator has paused sending, nothing is claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from functools import partial

from hongyan.channels.base import Channel, ChannelUnavailable, Part, SubmitOutcome
from hongyan.config import Settings
from hongyan.core.content import split_parts
from hongyan.core.gates import Gatekeeper
from hongyan.dispatch.routing import Router
from hongyan.store import delivery
from hongyan.store.database import Database
from hongyan.store.delivery import Claimed, ClaimRequest, MessageOutcome, PartOutcome
from hongyan.store.engine import now_ms

log = logging.getLogger(__name__)

DOWN = "DOWN"


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        gates: Gatekeeper,
        channels: Mapping[str, Channel],
        router: Router,
    ) -> None:
        self._settings = settings
        self._db = db
        self._gates = gates
        self._channels = channels
        self._router = router
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.submitted = 0

    def notify(self) -> None:
        """New messages were accepted: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        for name, channel in self._channels.items():
            parts = await self._db.read_sync(partial(delivery.sent_parts, channel=name))
            if parts:
                await channel.resume(parts)
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.dispatch_once()
            except Exception:
                log.exception("dispatch round failed")
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.dispatch_poll_s)

    async def dispatch_once(self) -> bool:
        """Claim and submit one batch; whether there was anything to do."""
        if self._gates.paused:
            return False
        s = self._settings
        claimed = await self._db.write(
            delivery.claim, ClaimRequest(now_ms(), int(s.lease_s * 1000), s.dispatch_batch)
        )
        if not claimed:
            return False
        by_channel: dict[str, list[Claimed]] = defaultdict(list)
        for message in claimed:
            by_channel[self._router.route(message)].append(message)
        await asyncio.gather(*(self._submit(name, group) for name, group in by_channel.items()))
        return True

    async def _submit(self, name: str, messages: list[Claimed]) -> None:
        s = self._settings
        parts: list[Part] = []
        for m in messages:
            texts = split_parts(m.content)
            parts += [
                Part(m.id, seq, len(texts), m.mobile, s.gateway_prefix + m.source, text)
                for seq, text in enumerate(texts, 1)
                if seq not in m.submitted_seqs
            ]
        try:
            outcomes = await self._channels[name].submit(parts)
        except ChannelUnavailable as exc:
            log.info("channel unavailable", extra={"channel": name, "reason": str(exc)})
            outcomes = [SubmitOutcome(error=DOWN, temporary=True)] * len(parts)
        now = now_ms()
        results = {m.id: self._outcome(name, m, now) for m in messages}
        for part, outcome in zip(parts, outcomes, strict=True):
            results[part.message_id].parts.append(
                PartOutcome(part.seq, outcome.upstream_id, outcome.error, outcome.temporary)
            )
            self.submitted += outcome.accepted
        await asyncio.gather(
            *(self._db.write(delivery.record_outcomes, r) for r in results.values())
        )

    def _outcome(self, channel: str, message: Claimed, now: int) -> MessageOutcome:
        s = self._settings
        backoff = min(s.retry_max_s, s.retry_base_s * 2 ** (message.attempts - 1))
        retry_at = now + int(backoff * random.uniform(0.5, 1.0) * 1000)
        return MessageOutcome(
            message.id,
            channel,
            now,
            retry_at=retry_at,
            expires_at=message.created_at + int(s.message_ttl_s * 1000),
        )
