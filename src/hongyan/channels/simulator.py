"""The simulated carrier: the embedded default, for demos, tests and integration.

Outcomes are deterministic so customers can test their integration: every
number is delivered except the test numbers ending in
`0000` (UNDELIV), `0001` (EXPIRED) and `0002` (REJECTD); an optional failure
ratio fails a further share with UNDELIV, decided by the upstream id's hash so
a restart gives the same answer. Receipts follow after a random delay in
[delay_min_s, delay_max_s]. It can be told to throttle (submits answer the
temporary error THROTTLED) or to go down for a while (ChannelUnavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from hongyan.channels.base import (
    ChannelSink,
    ChannelStatus,
    ChannelUnavailable,
    InboundReply,
    Part,
    Receipt,
    SentPart,
    SubmitOutcome,
    always,
)
from hongyan.core.content import split_parts
from hongyan.core.limits import Bucket
from hongyan.core.states import ChannelState, Status
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

TEST_NUMBERS = {"0000": "UNDELIV", "0001": "EXPIRED", "0002": "REJECTD"}
THROTTLED = "THROTTLED"
# Receipts handed to the sink at once: the sink group-commits them together.
_DELIVERY_BATCH = 256
_RETRY_S = 1.0


class SimulatorSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    kind: Literal["simulator"] = "simulator"
    name: str = "simulator"
    delay_min_s: float = Field(default=0.2, ge=0)
    delay_max_s: float = Field(default=2.0, ge=0)
    failure_ratio: float = Field(default=0.0, ge=0, le=1)
    tps: float | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def outcome_of(destination: str, upstream_id: str, failure_ratio: float) -> str:
    """The final status the simulator gives a part: "100" or a failure word."""
    word = TEST_NUMBERS.get(destination[-4:])
    if word:
        return word
    if failure_ratio:
        draw = int.from_bytes(hashlib.blake2b(upstream_id.encode(), digest_size=8).digest())
        if draw / 2**64 < failure_ratio:
            return "UNDELIV"
    return Status.DELIVERED


class SimulatedCarrier:
    kind = "simulator"

    def __init__(self, settings: SimulatorSettings) -> None:
        self.name = self.receipt_scope = settings.name
        self._settings = settings
        self._sink: ChannelSink | None = None
        self.may_send: Callable[[], bool] = always
        self._pending: list[tuple[int, str, str]] = []  # (due ms, upstream id, status)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._bucket = Bucket(float(settings.tps or 0), _now_ms())
        self._down_until = 0.0
        self._throttled_until = 0.0
        self.submitted = 0
        self.receipts_sent = 0

    # -- operator controls (tests, CLI) -----------------------------------

    def go_down(self, seconds: float) -> None:
        self._down_until = time.monotonic() + seconds

    def throttle(self, seconds: float) -> None:
        self._throttled_until = time.monotonic() + seconds

    async def inject_reply(self, mobile: str, gateway: str, text: str) -> None:
        """A handset's reply arriving through this carrier; returns once committed."""
        assert self._sink is not None, "start the channel first"
        await self._sink.reply(self.name, InboundReply(mobile, gateway, text, _now_ms()))

    # -- the Channel protocol -----------------------------------------------

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        self._task = asyncio.create_task(self._deliver_receipts(), name=f"{self.name}-receipts")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]:
        if time.monotonic() < self._down_until or not self.may_send():
            raise ChannelUnavailable(f"{self.name} is down (simulated)")
        if time.monotonic() < self._throttled_until:
            return [SubmitOutcome(error=THROTTLED, temporary=True) for _ in parts]
        outcomes = []
        now = _now_ms()
        for part in parts:
            if self._settings.tps:
                allowed, self._bucket = self._bucket.take(int(self._settings.tps), now)
                if not allowed:
                    outcomes.append(SubmitOutcome(error=THROTTLED, temporary=True))
                    continue
            upstream_id = os.urandom(8).hex()
            self._schedule(upstream_id, part.destination, now)
            outcomes.append(SubmitOutcome(upstream_id))
        self.submitted += sum(1 for o in outcomes if o.accepted)
        return outcomes

    def segments(self, text: str) -> list[str]:
        """As billed: whole, or 67 UTF-16 units a part."""
        return split_parts(text)

    async def resume(self, parts: Sequence[SentPart]) -> None:
        now = _now_ms()
        for part in parts:
            self._schedule(part.upstream_id, part.destination, now)

    def status(self) -> ChannelStatus:
        state = ChannelState.UP
        if time.monotonic() < self._down_until:
            state = ChannelState.DOWN
        elif time.monotonic() < self._throttled_until:
            state = ChannelState.THROTTLED
        return ChannelStatus(
            self.name,
            self.kind,
            state,
            self._settings.tps,
            self.submitted,
            extra={"receipts_pending": str(len(self._pending))},
        )

    # -- receipts ---------------------------------------------------------------

    def _schedule(self, upstream_id: str, destination: str, now: int) -> None:
        s = self._settings
        delay = random.uniform(s.delay_min_s, max(s.delay_min_s, s.delay_max_s))
        status = outcome_of(destination, upstream_id, s.failure_ratio)
        heapq.heappush(self._pending, (now + int(delay * 1000), upstream_id, status))
        self._wake.set()

    async def _deliver_receipts(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait_ms = self._pending[0][0] - _now_ms()
            if wait_ms > 0:
                self._wake.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can lose a
                # cancellation that comes as the event is set, and stop() hangs.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_ms / 1000):
                        await self._wake.wait()
                continue
            now = _now_ms()
            due: list[tuple[int, str, str]] = []
            while self._pending and self._pending[0][0] <= now and len(due) < _DELIVERY_BATCH:
                due.append(heapq.heappop(self._pending))
            results = await asyncio.gather(
                *(self._offer(upstream_id, status, now) for _, upstream_id, status in due),
                return_exceptions=True,
            )
            for item, result in zip(due, results, strict=True):
                if isinstance(result, BaseException):
                    # Not acknowledged: offer it again later, as a carrier would.
                    log.warning("receipt not taken, will retry", extra={"error": repr(result)})
                    heapq.heappush(self._pending, (now + int(_RETRY_S * 1000), item[1], item[2]))
                else:
                    self.receipts_sent += 1

    async def _offer(self, upstream_id: str, status: str, now: int) -> None:
        assert self._sink is not None
        await self._sink.receipt(self.name, Receipt(upstream_id, status, now))
