"""Operators' Argon2 work: off the event loop, and a few at a time.

An Argon2 hash or check costs tens of milliseconds of CPU (core/credentials.py).
It runs in a worker thread (`asyncio.to_thread`, as core/access.py does), so
the event loop keeps serving the customer API meanwhile; and at most
`ARGON2_AT_ONCE` of them run at once in this process, so a flood of sign-in
attempts queues here instead of taking every core the API needs.
"""

from __future__ import annotations

import asyncio
import weakref

from hongyan.core.credentials import console_hash, console_password_matches

ARGON2_AT_ONCE = 2

# One gate per event loop: an asyncio.Semaphore belongs to the loop it first
# waits on (a process runs one loop; a test suite, many).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_decoy: list[str] = []


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(ARGON2_AT_ONCE)
    return gate


async def password_hash(password: str) -> str:
    """The Argon2 hash of an operator's password."""
    async with _gate():
        return await asyncio.to_thread(console_hash, password)


async def password_matches(stored_hash: str, password: str) -> bool:
    """Whether `password` is the one `stored_hash` was made from."""
    async with _gate():
        return await asyncio.to_thread(console_password_matches, stored_hash, password)


async def decoy_hash() -> str:
    """What an unknown name's password is checked against: as costly as a real one."""
    if not _decoy:
        made = await password_hash("no operator has this password")
        if not _decoy:
            _decoy.append(made)
    return _decoy[0]
