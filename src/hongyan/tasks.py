"""Stopping background tasks: cancel them, then wait until each has ended."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel every task given (None: none there) and wait for all of them to
    end; a task that failed rather than being cancelled raises its error."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
