"""A clock the test holds: the platform's time, stopped and moved by hand.

Rules about time (a request-rate bucket, per-number windows, the
dispatcher's retry backoff) are decided by the clock the platform is given
(`hongyan.store.engine.Clock`). A test that hands in this one can say
"the next request is 499 ms later" instead of sleeping and hoping the
machine is quick enough, so the rule is checked to the millisecond and the
test neither waits nor flakes on a loaded machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hongyan.store.engine import now_ms


class ControlledClock:
    """Epoch milliseconds: the real time, unless held (`frozen`, or built
    `held=True`); while held, it moves only by `advance`."""

    def __init__(self, *, held: bool = False) -> None:
        self._held_at: int | None = now_ms() if held else None

    def __call__(self) -> int:
        held = self._held_at
        return now_ms() if held is None else held

    @contextmanager
    def frozen(self) -> Iterator[ControlledClock]:
        """Hold the time still for the block; the real time again after it."""
        self._held_at = now_ms()
        try:
            yield self
        finally:
            self._held_at = None

    def advance(self, ms: int) -> None:
        assert self._held_at is not None, "advance a held clock"
        self._held_at += ms
