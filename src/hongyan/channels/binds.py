"""What SMPP and CMPP channels share: N connections ("binds") to one carrier
gateway, each kept up by its own task, window slots across them, the pace of
`tps` parts a second, and the pause when the carrier says "slow down".

Each bind is kept up by its own task: connect and log in (the protocol's
`_bind`), wait for the connection to end, reconnect after a backoff with
jitter (`reconnect_min_s` doubling to `reconnect_max_s`). Submits go over the
bound connection with the most room in its window, and wait in one line for
the channel when every window is full (windows.py). The parts of one message
go one after another, each once the previous one is answered, so a long
message's parts leave in order and a refused or throttled part stops the rest
of that message (the dispatcher submits the missing ones later, same
reference, same order). Different messages go in parallel within the windows.

The channel paces itself at `tps` parts a second across all its binds. A
throttling answer (`_slow_down`) pauses every submit of the channel for
`throttle_pause_s`, doubling while the gateway keeps refusing, up to
`throttle_pause_max_s`. A lost connection or a response timeout is a
temporary failure for the dispatcher to retry.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from hongyan.channels.base import (
    BindStatus,
    ChannelSink,
    ChannelStatus,
    ChannelUnavailable,
    InboundFragment,
    InboundReply,
    Part,
    Receipt,
    SentPart,
    SubmitOutcome,
    always,
)
from hongyan.channels.session import Session, Unreadable
from hongyan.channels.windows import Windows
from hongyan.core.retry import backoff_s
from hongyan.core.states import BindState, ChannelState
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

DOWN = "DOWN"
TIMEOUT = "TIMEOUT"


class LinkSettings(Protocol):
    """The settings every bound channel has (SmppSettings, CmppSettings)."""

    @property
    def name(self) -> str: ...
    @property
    def window(self) -> int: ...
    @property
    def tps(self) -> float | None: ...
    @property
    def reconnect_min_s(self) -> float: ...
    @property
    def reconnect_max_s(self) -> float: ...
    @property
    def throttle_pause_s(self) -> float: ...
    @property
    def throttle_pause_max_s(self) -> float: ...
    @property
    def bind_wait_s(self) -> float: ...


class Link:
    """One connection of the channel and what `channel list` shows of it."""

    def __init__(self, label: str, transmits: bool = True, receives: bool = True) -> None:
        self.label = label
        self.transmits = transmits
        self.receives = receives
        self.session: Session | None = None
        self.state = BindState.DOWN
        self.last_error = ""
        self.last_error_at = 0  # wall clock, ms: when it happened
        self.submitted = 0
        self.failures = 0
        self.errors = 0  # every error noted, for the operators' channel page
        self.held = 0  # window slots handed to submits (windows.py)

    def failed(self, error: str) -> str:
        """Note what went wrong (kept until something else does); returns it."""
        self.last_error = error
        self.last_error_at = int(time.time() * 1000)
        self.errors += 1
        return error

    @property
    def ready(self) -> bool:
        return self.transmits and self.session is not None and self.session.bound

    def describe(self, window: int) -> BindStatus:
        return BindStatus(
            bind=self.label,
            state=self.state,
            in_flight=self.held,
            window=window,
            submitted=self.submitted,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            errors=self.errors,
        )


class BoundChannel:
    """The base of a channel over binds; a protocol gives `_bind`, which
    connects and logs in a link, and `_request_part`, which submits one part
    over a link and reads the answer."""

    kind = ""

    def __init__(self, settings: LinkSettings, links: list[Link]) -> None:
        self.name = self.receipt_scope = settings.name
        self._ls = settings
        self._links = links
        self._windows = Windows(self._links, settings.window)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._up = asyncio.Event()
        self._next_slot = 0.0
        # When the last tps parts went out (pacing under `tps`).
        self._sent: collections.deque[float] = collections.deque(
            maxlen=max(1, int(settings.tps or 1))
        )
        self._paused_until = 0.0
        self._pause = settings.throttle_pause_s
        self._sink: ChannelSink | None = None
        self.may_send: Callable[[], bool] = always
        self.submitted = 0
        self.throttled = 0
        self.receipts = 0
        self.replies = 0
        self.last_error = ""

    # -- what the protocol gives -----------------------------------------------------

    async def _bind(self, link: Link) -> None:
        raise NotImplementedError

    async def _request_part(self, link: Link, part: Part) -> SubmitOutcome:
        raise NotImplementedError

    def _extra(self) -> dict[str, str]:
        return {}

    # -- the Channel protocol ------------------------------------------------------

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._keep_bound(link), name=f"{self.name}-{link.label}")
            for link in self._links
        ]

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(
            *(link.session.unbind() for link in self._links if link.session is not None),
            return_exceptions=True,
        )
        await cancel(*self._tasks)
        self._tasks = []

    async def resume(self, parts: Sequence[SentPart]) -> None:
        """Nothing to do: the gateway keeps receipts for our account until we
        connect again."""

    async def submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]:
        if not any(link.ready for link in self._links):
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: see simulator.py
                async with asyncio.timeout(self._ls.bind_wait_s):
                    await self._up.wait()
            if not any(link.ready for link in self._links):
                raise ChannelUnavailable(f"{self.name}: no bind up ({self.last_error})")
        groups: list[list[Part]] = []
        for part in parts:
            if groups and groups[-1][0].message_id == part.message_id:
                groups[-1].append(part)
            else:
                groups.append([part])
        results = await asyncio.gather(*(self._submit_message(group) for group in groups))
        return [outcome for group in results for outcome in group]

    def status(self) -> ChannelStatus:
        bound = sum(1 for link in self._links if link.session is not None and link.session.bound)
        if not any(link.ready for link in self._links):
            state = ChannelState.DOWN
        elif time.monotonic() < self._paused_until:
            state = ChannelState.THROTTLED
        else:
            state = ChannelState.UP
        return ChannelStatus(
            self.name,
            self.kind,
            state,
            self._ls.tps,
            self.submitted,
            self.last_error,
            extra={
                "binds_up": f"{bound}/{len(self._links)}",
                "throttled": str(self.throttled),
                "receipts": str(self.receipts),
                "replies": str(self.replies),
                **self._extra(),
            },
            paces_itself=True,
            binds=[link.describe(self._ls.window) for link in self._links],
        )

    # -- binds ------------------------------------------------------------------------

    async def _keep_bound(self, link: Link) -> None:
        failures = 0
        where = {"channel": self.name, "bind": link.label}
        while not self._stopping:
            link.state = BindState.CONNECTING
            try:
                await self._bind(link)
            except Exception as exc:
                self.last_error = link.failed(describe(exc))
                log.warning(f"{self.kind} bind failed", extra={**where, "error": link.last_error})
            else:
                failures = 0
                link.state = BindState.BOUND
                self._up_changed()
                log.info(f"{self.kind} bound", extra=where)
                assert link.session is not None
                await link.session.wait_closed()
                if link.session.last_error:
                    self.last_error = link.failed(link.session.last_error)
                log.info(
                    f"{self.kind} connection closed",
                    extra={**where, "error": link.session.last_error},
                )
            link.state = BindState.DOWN
            self._up_changed()
            if self._stopping:
                return
            failures += 1
            s = self._ls
            delay = backoff_s(failures, s.reconnect_min_s, s.reconnect_max_s, random.random())
            await asyncio.sleep(delay)

    async def _connect(
        self, link: Link, session: Session, host: str, port: int, timeout_s: float
    ) -> None:
        """Open `session`, the new connection of `link`, to the gateway."""
        link.session = session
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.create_connection(lambda: session, host, port), timeout_s)

    @staticmethod
    async def _log_in(session: Session, request: Any, timeout_s: float) -> Any:
        """The gateway's answer to the login `request`; no answer in time cuts
        the connection."""
        try:
            return await asyncio.wait_for(session.request(request), timeout_s)
        except BaseException:
            session.abort()
            raise

    async def _hand_over(self, item: Receipt | InboundReply | InboundFragment | None) -> None:
        """Commit a receipt or reply the gateway sent; returns once it is safe
        to acknowledge upstream (the sink raises otherwise)."""
        assert self._sink is not None
        if isinstance(item, Receipt):
            await self._sink.receipt(self.receipt_scope, item)
            self.receipts += 1
        elif isinstance(item, InboundFragment):
            # Parts may come over any bind of the upstream account: they are
            # gathered under its scope, not under this channel's name.
            await self._sink.reply_part(self.receipt_scope, item)
            self.replies += 1
        elif isinstance(item, InboundReply):
            await self._sink.reply(self.name, item)
            self.replies += 1

    def _up_changed(self) -> None:
        if any(link.ready for link in self._links):
            self._up.set()
        else:
            self._up.clear()
        self._windows.changed()

    # -- submitting ----------------------------------------------------------------------

    async def _submit_message(self, parts: list[Part]) -> list[SubmitOutcome]:
        outcomes: list[SubmitOutcome] = []
        for i, part in enumerate(parts):
            outcome = await self._submit_part(part)
            outcomes.append(outcome)
            if not outcome.accepted:
                # The rest of this message waits, so its parts never overtake one another.
                left = len(parts) - i - 1
                outcomes += [SubmitOutcome(error=outcome.error, temporary=True)] * left
                break
        return outcomes

    async def _submit_part(self, part: Part) -> SubmitOutcome:
        # The window slot first, then the pace: parts leave no faster than
        # `tps` even when slots free in a burst.
        link = await self._windows.take()
        if link is None:
            return SubmitOutcome(error=DOWN, temporary=True)
        try:
            await self._pace()
            if link.session is None or not self.may_send():
                return SubmitOutcome(error=DOWN, temporary=True)
            outcome = await self._request_part(link, part)
        except TimeoutError:
            return SubmitOutcome(error=TIMEOUT, temporary=True)
        except (ConnectionError, Unreadable) as exc:
            link.failed(describe(exc))
            return SubmitOutcome(error=DOWN, temporary=True)
        finally:
            self._windows.give_back(link)
        if outcome.accepted:
            link.submitted += 1
            self.submitted += 1
            if self._pause > self._ls.throttle_pause_s and time.monotonic() > self._paused_until:
                self._pause = self._ls.throttle_pause_s
        else:
            self.last_error = link.failed(outcome.error)
        return outcome

    async def _pace(self) -> None:
        """Wait out a throttle pause, then for this part's turn under `tps`:
        its slot, 1/tps after the one before; then, if need be, until fewer
        than tps parts went out within the last second. The second rule is
        what a carrier counts: parts held up past their slots (a busy event
        loop) would otherwise go out bunched with the next second's. The
        caller writes the part at once after this returns."""
        while (wait := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)  # the pause can grow while we wait
        if self._ls.tps:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / self._ls.tps
            if slot > now:
                await asyncio.sleep(slot - now)
            sent = self._sent
            while len(sent) == sent.maxlen and (wait := sent[0] + 1.0 - time.monotonic()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)  # a deadline, not an event
            sent.append(time.monotonic())

    def _slow_down(self) -> None:
        self.throttled += 1
        now = time.monotonic()
        if now >= self._paused_until:
            self._paused_until = now + self._pause
            self._pause = min(self._pause * 2, self._ls.throttle_pause_max_s)
            log.info(f"{self.kind} throttled", extra={"channel": self.name, "pause_s": self._pause})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
