"""When a failed attempt is tried again: one capped exponential backoff with
jitter, for every retry the platform schedules (messages to a carrier in
dispatch/, pushes to a customer's server in push/, binds to an SMSC).

After `failures` failed attempts the delay is drawn from [d/2, d], where
d = base * 2^(failures - 1), at most `cap`: it doubles per failure, so a
peer that is down is not hammered, and the jitter spreads retries of many
items out instead of letting them arrive together. The exponent is bounded
before it is raised (2.0 ** 1024 overflows a float; a message retried every
minute for a day fails more than 1,024 times), and the delay is never zero
or negative, whatever the settings (a zero delay would retry in a busy loop).

Pure: the caller draws the jitter (`random.random()`, or a seeded generator
in tests), so the rule has no randomness or clock of its own.
"""

from __future__ import annotations

# 2^40 times any base of a millisecond or more is past any sensible cap.
_MAX_EXPONENT = 40
# The shortest delay: one millisecond, the platform's clock's resolution.
SHORTEST_S = 0.001


def backoff_s(failures: int, base_s: float, cap_s: float, draw: float) -> float:
    """Seconds to wait after `failures` failed attempts (1 after the first).

    `draw` is a random number in [0, 1]: 0 gives half the backoff, 1 all of it.
    """
    exponent = min(max(failures - 1, 0), _MAX_EXPONENT)
    full = min(max(base_s, SHORTEST_S) * 2.0**exponent, max(cap_s, SHORTEST_S))
    jitter = 0.5 + min(max(draw, 0.0), 1.0) / 2
    return max(full * jitter, SHORTEST_S)


def backoff_ms(failures: int, base_s: float, cap_s: float, draw: float) -> int:
    """`backoff_s` in whole milliseconds, at least one."""
    return max(int(backoff_s(failures, base_s, cap_s, draw) * 1000), 1)
