"""Channel pauses: one audit entry per change, in its transaction; refusals;
the worker's view follows the change counter. Both databases."""

from __future__ import annotations

import json

import pytest

from hongyan.config import Settings
from hongyan.core.audit import Actor
from hongyan.core.channel_control import ChannelControl, PausedChannels
from hongyan.core.roles import SUPPORT
from hongyan.errors import Forbidden, NotFound
from hongyan.store import audit as audit_store
from hongyan.store.database import Database


async def entries(db: Database, target: str) -> list[audit_store.Entry]:
    return await db.read_sync(lambda conn: audit_store.search(conn, target=target))


async def test_pause_and_resume_write_one_entry_each(settings: Settings, db: Database) -> None:
    control = ChannelControl(settings, db)
    actor = Actor("alice", "admin", "console", "10.0.0.1")
    watcher = PausedChannels(db, 60)
    await watcher.refresh()
    assert watcher.names == frozenset()

    assert await control.pause(actor, "simulator") is True
    assert await control.paused() == {"simulator"}
    await watcher.refresh()
    assert watcher.names == {"simulator"}
    [entry] = await entries(db, "channel:simulator")
    assert (entry.action, entry.actor, entry.via, entry.address) == (
        "channel.pause",
        "alice",
        "console",
        "10.0.0.1",
    )
    assert json.loads(entry.before) == {"paused": False}
    assert json.loads(entry.after) == {"paused": True}

    # Nothing changes: no entry.
    assert await control.pause(actor, "simulator") is False
    assert len(await entries(db, "channel:simulator")) == 1

    assert await control.resume(Actor.cli(), "simulator") is True
    await watcher.refresh()
    assert watcher.names == frozenset()
    newest = (await entries(db, "channel:simulator"))[0]
    assert (newest.action, newest.via) == ("channel.resume", "cli")
    assert json.loads(newest.after) == {"paused": False}
    assert await control.resume(Actor.cli(), "simulator") is False
    assert len(await entries(db, "channel:simulator")) == 2


async def test_unknown_channels_and_other_roles_are_refused(
    settings: Settings, db: Database
) -> None:
    control = ChannelControl(settings, db)
    with pytest.raises(NotFound, match="no channel 'nope'"):
        await control.pause(Actor.cli(), "nope")
    with pytest.raises(Forbidden):
        await control.pause(Actor("bob", SUPPORT, "console"), "simulator")
    with pytest.raises(Forbidden):
        await control.resume(Actor("bob", SUPPORT, "console"), "simulator")
    assert await control.paused() == set()
    assert await entries(db, "channel:nope") == []
    assert await entries(db, "channel:simulator") == []
