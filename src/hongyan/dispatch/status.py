"""What the worker reports of its channels every few seconds: each channel's
and bind's state, rate, window, errors, what waits for it, its receipts'
delivery rate and latency, to channel_status, where `channel list` and the
operators' channel page (another process) read it; and the queue gauges."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from functools import partial

from hongyan import metrics
from hongyan.channels.base import Channel
from hongyan.core.channel_figures import ChannelFigures
from hongyan.core.models import ReportedChannel
from hongyan.core.states import MessageState
from hongyan.store import channels as channel_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 2.0
# How recent another node's report must be for routing to believe it.
REPORT_FRESH_S = 10.0


class StatusReporter:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        errors: Mapping[str, int],
        figures: ChannelFigures,
        clock: Clock,
    ) -> None:
        self._db = db
        self._channels = channels
        self._errors = errors  # submits not taken, per channel (the dispatcher counts)
        self._figures = figures
        self._clock = clock
        self._last: dict[tuple[str, ...], tuple[float, int]] = {}
        # Channels other nodes run that they last reported down (routing
        # passes them over for their failover).
        self.reported_down: frozenset[str] = frozenset()

    def _rate(self, key: tuple[str, ...], count: int, now: float) -> float:
        """Per second since the last report (channels and their binds)."""
        before_at, before = self._last.get(key, (now, count))
        self._last[key] = (now, count)
        return round((count - before) / (now - before_at), 1) if now > before_at else 0.0

    async def report_once(self) -> None:
        waiting = await self._db.read_sync(channel_store.waiting_by_channel)
        since = self._clock() - int(REPORT_FRESH_S * 1000)
        down = await self._db.read_sync(partial(channel_store.reported_down, since=since))
        self.reported_down = frozenset(down - set(self._channels))
        metrics.QUEUE_DEPTH.labels(MessageState.QUEUED).set(sum(q for q, _ in waiting.values()))
        metrics.QUEUE_DEPTH.labels(MessageState.SENT).set(sum(s for _, s in waiting.values()))
        rows = []
        now = time.monotonic()
        for name, channel in self._channels.items():
            status = channel.status()
            binds = tuple(
                dataclasses.replace(b, rate=self._rate((name, b.bind), b.submitted, now))
                for b in status.binds
            )
            queued, sent = waiting.get(name, (0, 0))
            delivered, final = self._figures.delivery(name)
            p50, p95 = self._figures.latency(name)
            rows.append(
                ReportedChannel(
                    name=name,
                    kind=status.kind,
                    state=status.state,
                    tps=status.tps,
                    rate=self._rate((name,), status.submitted, now),
                    submitted=status.submitted,
                    awaiting_receipts=sent,
                    last_error=status.last_error,
                    updated_at=self._clock(),
                    binds=binds,
                    errors=self._errors.get(name, 0),
                    queued=queued,
                    receipts_delivered=delivered,
                    receipts_final=final,
                    latency_p50_ms=p50,
                    latency_p95_ms=p95,
                )
            )
        await self._db.write(channel_store.save_status, rows)

    async def run(self) -> None:
        """Report every STATUS_INTERVAL_S until cancelled."""
        while True:
            try:
                await self.report_once()
            except Exception:
                log.exception("reporting channel status failed")
            await asyncio.sleep(STATUS_INTERVAL_S)
