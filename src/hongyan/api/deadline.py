"""One deadline per connection, on one timer (api/server.py).

A connection's deadline changes with every request and is extended with every
byte of a body, so the timer is re-armed lazily: it fires at the deadline it
was set for, and if the deadline moved later meanwhile it sets itself again.
Moving a deadline is then only a float assignment.

Each deadline is stretched by up to `JITTER` of its timeout, at random:
connections opened together (500 slow clients started at once) then do not
all expire in one turn of the event loop, each costing a refusal, a close and
a reconnection (~150 µs: ~25 ms of stall for 167 of them).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Protocol

JITTER = 0.25


class Clock(Protocol):
    """What of an event loop a deadline uses."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle: ...


class Deadline:
    """`on_expiry` is called once the deadline has passed, unless it moved or was cancelled."""

    def __init__(self, loop: Clock, on_expiry: Callable[[], None]) -> None:
        self._loop = loop
        self._on_expiry = on_expiry
        self.at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def set(self, timeout: float) -> None:
        """The deadline `timeout` seconds from now (and up to JITTER more)."""
        self.at = self._loop.time() + timeout * (1 + JITTER * random.random())
        timer = self._timer
        if timer is None or timer.when() > self.at:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(self.at, self._fire)

    def extend(self, seconds: float, most: float) -> None:
        """`seconds` later, but at most `most` seconds from now: time earned by
        sending fast is not banked (as mod_reqtimeout caps it at its maxtimeout),
        or a burst of bytes would buy hours of silence."""
        self.at = max(self.at, min(self.at + seconds, self._loop.time() + most))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._loop.time() < self.at:
            self._timer = self._loop.call_at(self.at, self._fire)
        else:
            self._on_expiry()


class StalledWrites:
    """A client that sends requests but does not take the answers.

    Once asyncio's write buffer is over its high-water mark, the application
    waits to write, with no deadline of its own, and the connection was held
    for ever. While writing is paused, the client must take some of what is
    buffered every `timeout` seconds (slow is fine, gone is not), or
    `on_stall` is called."""

    def __init__(
        self, loop: Clock, unsent: Callable[[], int], on_stall: Callable[[], None]
    ) -> None:
        self._deadline = Deadline(loop, self._check)
        self._unsent = unsent
        self._on_stall = on_stall
        self._timeout = 0.0
        self._last = 0

    def paused(self, timeout: float) -> None:
        self._timeout, self._last = timeout, self._unsent()
        self._deadline.set(timeout)

    def resumed(self) -> None:
        self._deadline.cancel()

    def _check(self) -> None:
        unsent = self._unsent()
        if unsent < self._last:  # it took some: slow, not gone
            self._last = unsent
            self._deadline.set(self._timeout)
        else:
            self._on_stall()
