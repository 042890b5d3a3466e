"""A connection's deadline on one lazily re-armed timer (api/deadline.py), on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hongyan.api import deadline as deadline_module
from hongyan.api.deadline import Deadline, StalledWrites


class FakeTimer:
    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self._when, self.callback, self.cancelled = when, callback, False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(when, callback)
        self.timers.append(timer)
        return timer

    def run_until(self, now: float) -> None:
        """Fire the timers due by `now`, in order, as the loop would."""
        while True:
            due = [t for t in self.timers if not t.cancelled and t.when() <= now]
            if not due:
                break
            timer = min(due, key=FakeTimer.when)
            self.timers.remove(timer)
            self.now = timer.when()
            timer.callback()
        self.now = now


def test_a_deadline_expires_once_and_moving_it_later_costs_no_new_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadline_module.random, "random", lambda: 0.0)  # no jitter
    loop, expired = FakeLoop(), []
    deadline = Deadline(loop, lambda: expired.append(loop.now))
    deadline.set(5.0)
    deadline.extend(2.0, most=10.0)  # e.g. body bytes arrived
    assert len(loop.timers) == 1
    loop.run_until(6.0)
    assert expired == []  # fired at 5, found the deadline at 7, set itself again
    loop.run_until(10.0)
    assert expired == [7.0]


def test_time_earned_by_sending_fast_is_not_banked(monkeypatch: pytest.MonkeyPatch) -> None:
    """16 MB at once earned 16,000 s (a second per 1 KiB): at most `most` from now."""
    monkeypatch.setattr(deadline_module.random, "random", lambda: 0.0)
    loop, expired = FakeLoop(), []
    deadline = Deadline(loop, lambda: expired.append(loop.now))
    deadline.set(10.0)
    loop.run_until(4.0)
    deadline.extend(16_000.0, most=10.0)
    assert deadline.at == 14.0
    deadline.extend(16_000.0, most=1.0)  # never earlier than it was
    assert deadline.at == 14.0
    loop.run_until(20.0)
    assert expired == [14.0]


def test_an_earlier_deadline_replaces_the_timer_and_cancel_stops_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadline_module.random, "random", lambda: 0.0)
    loop, expired = FakeLoop(), []
    deadline = Deadline(loop, lambda: expired.append(loop.now))
    deadline.set(10.0)
    deadline.set(1.0)
    loop.run_until(2.0)
    assert expired == [1.0]
    deadline.set(1.0)
    deadline.cancel()
    loop.run_until(5.0)
    assert expired == [1.0]


def test_deadlines_are_spread_by_jitter() -> None:
    loop = FakeLoop()
    ats = set()
    for _ in range(50):
        deadline = Deadline(loop, lambda: None)
        deadline.set(10.0)
        ats.add(deadline.at)
    assert all(10.0 <= at <= 12.5 for at in ats) and len(ats) > 40


def test_a_client_that_takes_some_answers_is_slow_one_that_takes_none_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadline_module.random, "random", lambda: 0.0)
    loop, stalled = FakeLoop(), []
    unsent = [100_000]
    writes = StalledWrites(loop, lambda: unsent[0], lambda: stalled.append(loop.now))
    writes.paused(10.0)
    unsent[0] = 90_000  # the client read some
    loop.run_until(15.0)
    assert stalled == []
    loop.run_until(25.0)  # and then nothing
    assert stalled == [20.0]
    writes.paused(10.0)
    writes.resumed()  # the buffer drained: no deadline
    loop.run_until(100.0)
    assert stalled == [20.0]
