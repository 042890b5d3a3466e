"""Running the channels this worker node owns, and only those.

Every worker process is a node with an id of its own (host:pid:token). A
loop takes a turn every third of `channel_lease_s`: it renews the node's
channel leases, takes free channels up to its fair share and gives back what
it holds beyond it (core/ownership.py says which), all in one transaction
(store/ownership.py). A channel taken is started here (its binds open) and
its parts awaiting receipts are resumed; a channel lost or given back is
stopped. Giving back drains first: the dispatcher claims nothing more for
it, the rounds in flight finish, the channel stops, then its lease is freed.

A node counts a lease as held on its own clock as well: only until
`channel_lease_s` has passed since the renewal that last kept it began. A
node that stalled (a long pause, SIGSTOP) so stops using its channels as it
wakes, before anything else, and before the store could tell it that another
node took them: by then its lease ran out in the store too, and the store
refuses its renewals and its claims for those channels (the epoch moved on).
Wall clocks of the nodes must agree to well within a lease (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import partial

from hongyan.channels.base import Channel, ChannelSink
from hongyan.config import Settings
from hongyan.store import delivery, ownership
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

_HOST = socket.gethostname()
# Nodes of this process that run: another id with this process's pid is one
# that stopped without giving its channels back (a platform restarted here).
_RUNNING_HERE: set[str] = set()


def new_node_id() -> str:
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(3)}"


def gone_here(node: str) -> bool:
    """Whether `node` is known to run no more: a process of this machine that
    ended (or a node of this process that stopped). A node of another machine
    is never known gone: its leases have to run out."""
    host, pid_text, _token = [*node.rsplit(":", 2), "", ""][:3]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return node not in _RUNNING_HERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ChannelOwnership:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        channels: Mapping[str, Channel],
        sink: ChannelSink,
        clock: Clock = now_ms,
    ) -> None:
        self.node = new_node_id()
        self._lease_s = settings.channel_lease_s
        self._db = db
        self._channels = channels
        self._sink = sink
        self._clock = clock
        self._held: dict[str, int] = {}  # channel: the epoch it is held by
        self._valid_until: dict[str, float] = {}  # channel: monotonic time its lease ends
        self._valid_from: dict[str, float] = {}  # channel: monotonic time it may first send
        self._leaving: set[str] = set()
        self._giving: set[asyncio.Task[None]] = set()
        self._avoid: dict[str, float] = {}  # given back: not taken again until (monotonic)
        self._task: asyncio.Task[None] | None = None
        # Set by the dispatcher: waits until the rounds in flight are recorded;
        # told when a channel taken here may be used.
        self.drain: Callable[[], Awaitable[None]] | None = None
        self.on_usable: Callable[[], None] | None = None
        self.running = _Running(self)
        for name, channel in channels.items():
            channel.may_send = partial(self.holds, name)

    def holds(self, name: str) -> bool:
        """Whether this node may use `name` now: its lease held, by this
        node's own clock too, and not being given back."""
        until = self._valid_until.get(name)
        if until is None or name in self._leaving:
            return False
        return self._valid_from.get(name, 0.0) <= time.monotonic() < until

    def holding(self) -> list[str]:
        return [name for name in self._channels if self.holds(name)]

    async def start(self) -> None:
        """The first turn, so that the channels this node takes run before
        its dispatcher does; then a turn every third of a lease."""
        _RUNNING_HERE.add(self.node)
        await self._turn_logged()
        self._task = asyncio.create_task(self._run(), name="channel-ownership")

    async def stop(self) -> None:
        """Stop every channel and give its lease back: another node, or this
        one restarted, takes it at once."""
        await cancel(self._task, *self._giving)
        self._task = None
        held = dict(self._held)
        for name in held:
            await self._stop_channel(name)
        try:
            for name, epoch in held.items():
                release = ownership.Release(self.node, name, epoch, self._clock())
                await self._db.write(ownership.release, release)
            await self._db.write(ownership.leave, self.node)
        except Exception:
            log.exception("giving channel leases back failed: they run out instead")
        _RUNNING_HERE.discard(self.node)

    def _usable(self) -> None:
        if self.on_usable is not None:
            self.on_usable()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            await self._turn_logged()

    async def _turn_logged(self) -> None:
        try:
            await self.turn()
        except Exception:
            log.exception("channel ownership turn failed")

    async def turn(self) -> None:
        await self._drop_lapsed()
        began = time.monotonic()
        self._avoid = {name: t for name, t in self._avoid.items() if t > began}
        result = await self._db.write(
            ownership.turn,
            ownership.Turn(
                node=self.node,
                now=self._clock(),
                lease_ms=int(self._lease_s * 1000),
                configured=tuple(self._channels),
                held=tuple(self._held.items()),
                avoid=tuple(self._avoid),
                gone=gone_here,
            ),
        )
        for name in result.lost:
            log.warning("channel lease lost: another node took it", extra={"channel": name})
            await self._stop_channel(name)
        for name, epoch in result.held.items():
            self._held[name] = epoch
            self._valid_until[name] = began + self._lease_s
        for name in result.taken:
            # The node it was taken from may have sent at the channel's full
            # rate until a moment ago (it gave it back, or died): quiet until
            # a second after that keeps the two within one second's allowance.
            quiet_s = result.quiet_ms.get(name, 0) / 1000
            self._valid_from[name] = time.monotonic() + quiet_s
            asyncio.get_running_loop().call_later(quiet_s, self._usable)
            log.info(
                "channel taken",
                extra={"channel": name, "epoch": result.held[name], "node": self.node},
            )
            await self._start_channel(name)
        for name in result.give_back:
            if name not in self._leaving:
                # Beside the turns, which go on renewing every lease meanwhile:
                # a paced round can take longer to finish than a lease lasts.
                self._leaving.add(name)
                task = asyncio.create_task(self._give_back(name), name=f"give-back-{name}")
                self._giving.add(task)
                task.add_done_callback(self._giving.discard)

    async def _drop_lapsed(self) -> None:
        """Stop the channels whose lease ran out on this node's clock."""
        now = time.monotonic()
        for name in [n for n, until in self._valid_until.items() if until <= now]:
            log.warning(
                "channel lease ran out before it was renewed: stopped here",
                extra={"channel": name, "node": self.node},
            )
            await self._stop_channel(name)

    async def _start_channel(self, name: str) -> None:
        channel = self._channels[name]
        await channel.start(self._sink)
        try:
            parts = await self._db.read_sync(partial(delivery.sent_parts, channel=name))
            if parts:
                await channel.resume(parts)
        except Exception:
            log.exception("resuming a channel's parts awaiting receipts failed")

    async def _stop_channel(self, name: str) -> None:
        self._held.pop(name, None)
        self._valid_until.pop(name, None)
        self._valid_from.pop(name, None)
        try:
            await self._channels[name].stop()
        except Exception:
            log.exception("stopping a channel failed", extra={"channel": name})

    async def _give_back(self, name: str) -> None:
        """Drain `name` (nothing more claimed or sent for it, the rounds in
        flight recorded), stop it, then free its lease for a node with fewer."""
        epoch = self._held[name]
        try:
            if self.drain is not None:
                await self.drain()
            await self._stop_channel(name)
            release = ownership.Release(self.node, name, epoch, self._clock())
            await self._db.write(ownership.release, release)
            self._avoid[name] = time.monotonic() + self._lease_s
            log.info("channel given back to share the load", extra={"channel": name})
        except Exception:
            log.exception("giving a channel back failed: its lease runs out instead")
        finally:
            self._leaving.discard(name)


class _Running(Mapping[str, Channel]):
    """The channels this node holds now, for what reports on them."""

    def __init__(self, owner: ChannelOwnership) -> None:
        self._owner = owner

    def __getitem__(self, name: str) -> Channel:
        if not self._owner.holds(name):
            raise KeyError(name)
        return self._owner._channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._owner.holding())

    def __len__(self) -> int:
        return len(self._owner.holding())
