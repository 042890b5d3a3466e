"""Waiting in tests: on a condition, with a generous bound, never a sleep that hopes.

The bound only ends a test that would otherwise hang, so it is far above what
anything takes on a developer's machine: a loaded two-core CI machine runs
many times slower, and a test must not fail there for being slow. The
per-test timeout of pytest-timeout (pyproject.toml) is the last guard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

WAIT_S = 120.0


def until(check: Callable[[], object], what: str, timeout: float = WAIT_S) -> float:
    """Poll `check` until it holds; the seconds that took. Fails after `timeout`
    (never less than WAIT_S)."""
    started = time.monotonic()
    deadline = started + max(timeout, WAIT_S)
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {max(timeout, WAIT_S):.0f} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


async def until_async(
    check: Callable[[], Awaitable[object]], what: str, within: float = WAIT_S
) -> None:
    """`until` for a coroutine check, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(within, WAIT_S)
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"not within {max(within, WAIT_S):.0f} s: {what}")
        await asyncio.sleep(0.02)
