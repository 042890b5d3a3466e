"""A bound channel's pacing (channels/binds.py `_pace`): never more than `tps`
parts leave within any one second, even when the event loop was held up and
the slots of many parts fell due at once."""

from __future__ import annotations

import asyncio
import collections
import time

from hongyan.channels.smpp.channel import SmppChannel
from hongyan.channels.smpp.settings import SmppSettings

TPS = 100


def busiest_second(times: list[float]) -> int:
    """The most of `times` within any one second (a sliding window)."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def released_after_a_stall(channel: SmppChannel) -> list[float]:
    """When each of 250 parts was let go, the loop blocked for 0.4 s meanwhile."""
    released: list[float] = []

    async def part() -> None:
        await channel._pace()
        released.append(time.monotonic())

    parts = [asyncio.create_task(part()) for _ in range(250)]
    await asyncio.sleep(0.3)
    time.sleep(0.4)  # noqa: ASYNC251 - the event loop held up (a long callback), not a wait
    await asyncio.gather(*parts)
    return released


async def test_no_more_than_tps_parts_leave_within_any_second() -> None:
    channel = SmppChannel(SmppSettings(name="paced", system_id="x", tps=TPS), "")
    assert busiest_second(await released_after_a_stall(channel)) <= TPS


async def test_spacing_alone_would_let_the_held_up_parts_out_bunched() -> None:
    """The control: with the one-second rule out of the way, the parts whose
    slots fell due during the stall leave at once, on top of the next ones."""
    channel = SmppChannel(SmppSettings(name="paced", system_id="x", tps=TPS), "")
    channel._sent = collections.deque(maxlen=10**9)  # never full: the rule never applies
    assert busiest_second(await released_after_a_stall(channel)) > TPS
