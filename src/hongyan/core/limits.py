"""Sending limits of an account (PROTOCOL.md "/mt/ send", Frequency).

- Request rate: a token bucket of `rate` requests a second with a burst of the
  same size; over it, `107`.
- Per recipient: windows like `1/30s,5/h,10/d`, counted over the account's
  accepted messages to that number; over any of them, `110` for a single-number
  request, a failed report for that number in a multi-number one.

Pure functions over plain state, so the store can keep the state in the same
transaction as the charge and every worker process sees the same limits.

And a channel's own limit, in parts a second (`Pacer`): what the dispatcher
lets go to a carrier that counts submits with a token bucket of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WINDOW = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    seconds: int

    def __str__(self) -> str:
        for unit, size in reversed(_UNITS.items()):
            if self.seconds % size == 0:
                amount = self.seconds // size
                return f"{self.count}/{'' if amount == 1 else amount}{unit}"
        raise AssertionError("seconds is a whole number of seconds")


def parse_windows(spec: str) -> tuple[Window, ...]:
    """`"1/30s,5/h,10/d"` → windows; `""` or `"off"` → none. Raises ValueError."""
    spec = spec.strip()
    if spec in ("", "off"):
        return ()
    windows = []
    for item in spec.split(","):
        match = _WINDOW.fullmatch(item)
        if not match:
            raise ValueError(f"bad limit {item.strip()!r}: expected COUNT/[N]UNIT like 5/h")
        count, amount, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
        if count < 1 or amount < 1:
            raise ValueError(f"bad limit {item.strip()!r}: counts must be positive")
        windows.append(Window(count, amount * _UNITS[unit]))
    return tuple(sorted(windows, key=lambda w: w.seconds))


def format_windows(windows: Sequence[Window]) -> str:
    return ",".join(map(str, windows)) if windows else "off"


def longest_window_ms(windows: Sequence[Window]) -> int:
    return max((w.seconds for w in windows), default=0) * 1000


def within_windows(history_ms: Sequence[int], now_ms: int, windows: Sequence[Window]) -> bool:
    """Whether one more send at `now_ms` keeps every window within its count."""
    for window in windows:
        since = now_ms - window.seconds * 1000
        if sum(1 for t in history_ms if t > since) >= window.count:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Bucket:
    """Token bucket state: tokens left at `at_ms`."""

    tokens: float
    at_ms: int

    def take(self, rate: int, now_ms: int) -> tuple[bool, Bucket]:
        """Take one token at `rate` per second (burst `rate`); whether it was there."""
        elapsed = max(0, now_ms - self.at_ms) / 1000
        tokens = min(float(rate), self.tokens + elapsed * rate)
        if tokens >= 1.0:
            return True, Bucket(tokens - 1.0, now_ms)
        return False, Bucket(tokens, now_ms)


@dataclass(frozen=True, slots=True)
class Pacer:
    """Parts a second to a carrier: a token bucket of half a second's parts,
    kept as the time the next part is due (the generic cell rate algorithm
    of ATM, ITU-T I.371, which is that bucket in one number).

    Carriers count submits with a bucket of a second's burst (Kannel,
    SMSC simulators, ours): a pace kept in fixed one-second windows can send
    a window's parts at the end of one and the next window's at the start of
    the next, twice the rate within a second, and half of them come back
    throttled. Paced evenly, with a burst of half the carrier's, no second
    carries more than the carrier allows, and half a burst is left to spare
    for parts the network bunches together."""

    due_s: float  # when the next part may go if no burst were allowed (monotonic s)

    def take(self, rate: float, wanted: int, now_s: float) -> tuple[int, float, Pacer]:
        """(parts that may go now, seconds to wait before asking again if
        none may, the new state)."""
        interval = 1.0 / rate
        burst = max(1.0, rate / 2)
        early = (burst - 1.0) * interval  # how far ahead of its time a part may go
        start = max(self.due_s, now_s)
        # A nanosecond of slack: a wait computed to the instant may land a
        # rounding error short of it.
        room = now_s + early - start
        if room < -1e-9:
            return 0, -room, self
        granted = min(wanted, int(max(0.0, room) / interval + 1e-9) + 1)
        return granted, 0.0, Pacer(start + granted * interval)
