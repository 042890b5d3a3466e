"""What receipts say of each channel lately: the delivery rate (delivered
receipts of all final ones, in about the last hour) and the receipt latency
(receipt time minus submit time: its 50th and 95th percentiles over the
latest receipts). Kept in the worker's memory, one per database, noted where
a receipt makes a part final (store/delivery/receipts.py, early receipts
too), and reported with the channel's status (dispatch/status.py), so the
channel page reads them without scanning message_parts. A receipt counts
for the channel that holds the part: the receipt scope, which channels
bound to one upstream account share (channels/base.py).

Noted before the commit, like the throughput counts: a gauge, not a ledger.
Thread-safe: receipts are applied on the SQLite writer thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

WINDOW_S = 3600
BUCKET_S = 60
LATENCY_SAMPLES = 1000


@dataclass
class _Channel:
    # (minute, delivered, final) buckets, oldest first.
    minutes: deque[list[int]] = field(default_factory=deque)
    latencies: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))


def percentile(ordered: list[int], share: float) -> int | None:
    """The nearest-rank percentile of sorted values (None when there are none)."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))  # ceil, at least the first
    return ordered[int(rank) - 1]


class ChannelFigures:
    def __init__(self, window_s: int = WINDOW_S, bucket_s: int = BUCKET_S) -> None:
        self._window_s = window_s
        self._bucket_s = bucket_s
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()

    def receipt(
        self, channel: str, *, delivered: bool, latency_ms: int, now_s: float | None = None
    ) -> None:
        """A receipt that made a part final (not a duplicate, not an early one)."""
        bucket = int((time.time() if now_s is None else now_s) // self._bucket_s)
        with self._lock:
            figures = self._channels.setdefault(channel, _Channel())
            if not figures.minutes or figures.minutes[-1][0] != bucket:
                figures.minutes.append([bucket, 0, 0])
            last = figures.minutes[-1]
            last[1] += int(delivered)
            last[2] += 1
            figures.latencies.append(max(0, latency_ms))

    def delivery(self, channel: str, now_s: float | None = None) -> tuple[int, int]:
        """(delivered, final) receipts of the window."""
        oldest = int((time.time() if now_s is None else now_s) - self._window_s) // self._bucket_s
        with self._lock:
            figures = self._channels.get(channel)
            if figures is None:
                return 0, 0
            while figures.minutes and figures.minutes[0][0] < oldest:
                figures.minutes.popleft()
            return sum(m[1] for m in figures.minutes), sum(m[2] for m in figures.minutes)

    def latency(self, channel: str) -> tuple[int | None, int | None]:
        """(p50, p95) ms of the latest receipts."""
        with self._lock:
            figures = self._channels.get(channel)
            ordered = sorted(figures.latencies) if figures is not None else []
        return percentile(ordered, 0.50), percentile(ordered, 0.95)


_lock = threading.Lock()
_by_database: dict[str, ChannelFigures] = {}


def figures_of(database: str | None) -> ChannelFigures:
    """The figures of a database (its file or name), as hongyan/throughput.py keys its counts."""
    key = database or ""
    found = _by_database.get(key)
    if found is None:
        with _lock:
            found = _by_database.setdefault(key, ChannelFigures())
    return found


def figures_for_url(url: str) -> ChannelFigures:
    return figures_of(make_url(url).database)
