"""Sending limits of an account (PROTOCOL.md "/mt/ send", Frequency).

- Request rate: a token bucket of `rate` requests a second with a burst of the
  same size; over it, `107`.
- Per recipient: windows like `1/30s,5/h,10/d`, counted over the account's
  accepted messages to that number; over any of them, `110` for a single-number
  request, a failed report for that number in a multi-number one.

Pure functions over plain state, so the store can keep the state in the same
transaction as the charge and every worker process sees the same limits.

And a channel's own limit, in parts a second (`Pacer`): what the dispatcher
lets go to a carrier that counts the parts it is sent.
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
    """Parts a second to a carrier, evenly spaced: a part every 1/rate
    seconds, never two closer (the generic cell rate algorithm of ITU-T I.371
    with no burst, kept as the time the next part is due).

    Carriers count submits each their own way: a token bucket of a second's
    burst, or fixed one-second windows on their own clock (CMPP gateways'
    flow control). Evenly spaced parts never exceed either: any second holds
    at most `rate` of them, wherever it begins. The pace it replaced, fixed
    one-second windows of our own, could send a window's parts at the end of
    one and the next window's at the start of the next: twice the rate within
    a second, half of it throttled."""

    due_s: float  # when the next part may go (monotonic seconds)

    def take(self, rate: float, wanted: int, now_s: float) -> tuple[int, float, Pacer]:
        """(parts that may go now: 1 or 0, seconds to wait before asking again
        if none may, the new state)."""
        if wanted < 1:
            return 0, 0.0, self
        # A nanosecond of slack: a wait computed to the instant may land a
        # rounding error short of it.
        if self.due_s - now_s > 1e-9:
            return 0, self.due_s - now_s, self
        return 1, 0.0, Pacer(max(self.due_s, now_s) + 1.0 / rate)
