"""Pausing and resuming a channel without a restart.

An operator pauses a channel (`channel.pause`, admin only): the row in
channel_controls changes, with its audit entry and the change counter's bump,
in one transaction. The running worker, in this process or another, polls
the counter (`PausedChannels`, as the gates poll it for switches and
keywords) and within a poll stops routing messages to the channel: routing
fails over to the next channel of the route that is up and not paused, and
when there is none the messages wait, neither failed nor expiring, until the
channel is resumed. The channel's binds stay up, so receipts and replies
keep coming while it is paused.
"""

from __future__ import annotations

import asyncio
import logging

from hongyan.config import Settings
from hongyan.core.audit import Actor, record
from hongyan.errors import NotFound
from hongyan.store import channel_controls as store
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

log = logging.getLogger(__name__)

PAUSE = "channel.pause"
RESUME = "channel.resume"


def channel_names(settings: Settings) -> tuple[str, ...]:
    """The channels the settings configure, the built-in simulator first."""
    return (settings.simulator.name, *(c.name for c in settings.channels))


def target(name: str) -> str:
    return f"channel:{name}"


class ChannelControl:
    """The operator's side: pause, resume, and which channels are paused."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db

    async def pause(self, actor: Actor, name: str) -> bool:
        """Pause `name`; False when it already was (nothing changed, no entry)."""
        return await self._set(actor, name, paused=True)

    async def resume(self, actor: Actor, name: str) -> bool:
        """Resume `name`; False when it was not paused (nothing changed, no entry)."""
        return await self._set(actor, name, paused=False)

    async def paused(self) -> set[str]:
        async with self._db.read() as conn:
            return await store.read_paused(conn)

    async def _set(self, actor: Actor, name: str, *, paused: bool) -> bool:
        action = PAUSE if paused else RESUME
        actor.require(action)
        known = channel_names(self._settings)
        if name not in known:
            raise NotFound(f"no channel {name!r} (channels: {', '.join(known)})")
        async with self._db.transaction() as conn:
            before = await store.set_paused(conn, name, paused, now_ms())
            if before == paused:
                return False
            await record(
                conn,
                actor,
                action,
                target(name),
                before={"paused": before},
                after={"paused": paused},
            )
        log.info(
            "channel paused" if paused else "channel resumed",
            extra={"channel": name, "actor": actor.name, "via": actor.via},
        )
        return True


class PausedChannels:
    """The worker's view of the pauses: read again whenever the change
    counter moved, polled every `interval_s`."""

    def __init__(self, db: Database, interval_s: float) -> None:
        self._db = db
        self._interval_s = interval_s
        self._generation: int | None = None
        self.names: frozenset[str] = frozenset()

    async def refresh(self) -> None:
        async with self._db.read() as conn:
            generation = (await system.read_state(conn)).get(system.GENERATION, 0)
            if generation == self._generation:
                return
            names = frozenset(await store.read_paused(conn))
        if names != self.names:
            log.info("paused channels", extra={"channels": sorted(names)})
        self.names, self._generation = names, generation

    async def keep_fresh(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("reading channel pauses failed")
