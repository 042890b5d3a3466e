"""The `smpp` channel: an SMPP 3.4 ESME keeping N binds to one SMSC.

Each bind is kept up by its own task: connect, bind, wait for the connection
to end, reconnect after a backoff with jitter (`reconnect_min_s` doubling to
`reconnect_max_s`). Submits go over the bound connection with the most room
in its window, and wait in one line for the channel when every window is full
(windows.py). The parts of one message go one after another, each once the
previous one is answered, so a long message's parts leave in order and a
refused or throttled part stops the rest of that message (the dispatcher
submits the missing ones later, same reference, same order). Different
messages go in parallel within the windows.

The channel paces itself at `tps` parts a second across all its binds. An
ESME_RTHROTTLED or ESME_RMSGQFUL answer pauses every submit of the channel
for `throttle_pause_s`, doubling while the SMSC keeps refusing, and the part
is a temporary failure for the dispatcher to retry. Other errors are
permanent unless the SMSC says "try later" (ESME_RX_T_APPN, ESME_RSYSERR);
a lost connection or a response timeout is temporary.

Receipts and replies (deliver_sm, data_sm) are answered only after the sink
has committed them; if it fails they are answered ESME_RX_T_APPN and the SMSC
offers them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

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
)
from hongyan.channels.session import Unreadable
from hongyan.channels.smpp import mapping, receipt, text
from hongyan.channels.smpp.constants import (
    CommandStatus,
    status_name,
)
from hongyan.channels.smpp.pdu import (
    Bind,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    Pdu,
    SubmitSmResp,
    response_to,
)
from hongyan.channels.smpp.session import Session
from hongyan.channels.smpp.settings import SmppSettings
from hongyan.channels.windows import Windows
from hongyan.core.retry import backoff_s
from hongyan.core.states import BindState, ChannelState
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

DOWN = "DOWN"
TIMEOUT = "TIMEOUT"
_SLOW_DOWN = {CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL}
_TRY_LATER = {CommandStatus.ESME_RX_T_APPN, CommandStatus.ESME_RSYSERR}
_STATUS_WIDTH = 20  # messages.status holds 20 characters


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_word(status: int) -> str:
    """What a refused part's report says: the command_status name, if it fits."""
    name = status_name(status)
    return name if len(name) <= _STATUS_WIDTH else f"0x{status:08X}"


class _Link:
    """One connection of the channel and what `channel list` shows of it."""

    def __init__(self, label: str, transmits: bool, receives: bool) -> None:
        self.label = label
        self.transmits = transmits
        self.receives = receives
        self.session: Session | None = None
        self.state = BindState.DOWN
        self.last_error = ""
        self.last_error_at = 0  # wall clock, ms: when it happened
        self.submitted = 0
        self.failures = 0
        self.held = 0  # window slots handed to submits (windows.py)

    def failed(self, error: str) -> str:
        """Note what went wrong (kept until something else does); returns it."""
        self.last_error = error
        self.last_error_at = int(time.time() * 1000)
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
        )


class SmppChannel:
    kind = "smpp"

    def __init__(self, settings: SmppSettings, gateway_prefix: str = "") -> None:
        self.name = self.receipt_scope = settings.name
        self._s = settings
        self._gateway_prefix = gateway_prefix
        self._sink: ChannelSink | None = None
        self._links: list[_Link] = []
        for i in range(1, settings.binds + 1):
            if settings.bind_mode == "transceiver":
                self._links.append(_Link(f"{i}/trx", True, True))
            else:
                self._links += [_Link(f"{i}/tx", True, False), _Link(f"{i}/rx", False, True)]
        self._windows = Windows(self._links, settings.window)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._up = asyncio.Event()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._pause = settings.throttle_pause_s
        self.submitted = 0
        self.throttled = 0
        self.receipts = 0
        self.replies = 0
        self.last_error = ""

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

    def segments(self, content: str) -> list[str]:
        return text.segments(content, self._s.split, self._s.gsm7)

    async def resume(self, parts: Sequence[SentPart]) -> None:
        """Nothing to do: the SMSC keeps receipts for our system_id until we bind again."""

    async def submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]:
        if not any(link.ready for link in self._links):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), self._s.bind_wait_s)
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
            self._s.tps,
            self.submitted,
            self.last_error,
            extra={
                "binds_up": f"{bound}/{len(self._links)}",
                "throttled": str(self.throttled),
                "receipts": str(self.receipts),
                "replies": str(self.replies),
            },
            paces_itself=True,
            binds=[link.describe(self._s.window) for link in self._links],
        )

    # -- binds ------------------------------------------------------------------------

    async def _keep_bound(self, link: _Link) -> None:
        failures = 0
        while not self._stopping:
            link.state = BindState.CONNECTING
            try:
                await self._bind(link)
            except Exception as exc:
                self.last_error = link.failed(_describe(exc))
                log.warning(
                    "smpp bind failed",
                    extra={"channel": self.name, "bind": link.label, "error": link.last_error},
                )
            else:
                failures = 0
                assert link.session is not None
                await link.session.wait_closed()
                if link.session.last_error:
                    self.last_error = link.failed(link.session.last_error)
                log.info(
                    "smpp connection closed",
                    extra={
                        "channel": self.name,
                        "bind": link.label,
                        "error": link.session.last_error,
                    },
                )
            link.state = BindState.DOWN
            self._up_changed()
            if self._stopping:
                return
            failures += 1
            s = self._s
            delay = backoff_s(failures, s.reconnect_min_s, s.reconnect_max_s, random.random())
            await asyncio.sleep(delay)

    async def _bind(self, link: _Link) -> None:
        s = self._s
        loop = asyncio.get_running_loop()
        session = Session(
            f"{self.name}-{link.label}",
            self._on_request,
            window=s.window,
            response_timeout_s=s.response_timeout_s,
            enquire_link_s=s.enquire_link_s,
        )
        link.session = session
        await asyncio.wait_for(
            loop.create_connection(lambda: session, s.host, s.port), s.connect_timeout_s
        )
        request: Bind
        if link.transmits and link.receives:
            request = BindTransceiver()
        elif link.transmits:
            request = BindTransmitter()
        else:
            request = BindReceiver()
        request.system_id, request.password = s.system_id, s.password
        request.system_type, request.address_range = s.system_type, s.address_range
        try:
            answer = await asyncio.wait_for(session.request(request), s.response_timeout_s)
        except BaseException:
            session.abort()
            raise
        if answer.status:
            session.close()
            raise ConnectionError(f"bind refused: {status_name(answer.status)}")
        session.bound = True
        link.state = BindState.BOUND
        self._up_changed()
        log.info("smpp bound", extra={"channel": self.name, "bind": link.label})

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
            if link.session is None:
                return SubmitOutcome(error=DOWN, temporary=True)
            answer = await link.session.request(mapping.submit_sm(part, self._s))
        except TimeoutError:
            return SubmitOutcome(error=TIMEOUT, temporary=True)
        except (ConnectionError, Unreadable) as exc:
            link.failed(_describe(exc))
            return SubmitOutcome(error=DOWN, temporary=True)
        finally:
            self._windows.give_back(link)
        if answer.status == 0 and isinstance(answer, SubmitSmResp) and answer.message_id:
            link.submitted += 1
            self.submitted += 1
            if self._pause > self._s.throttle_pause_s and time.monotonic() > self._paused_until:
                self._pause = self._s.throttle_pause_s
            return SubmitOutcome(receipt.canonical_id(answer.message_id, self._s.submit_id_base))
        word = error_word(answer.status) if answer.status else "NO_MESSAGE_ID"
        self.last_error = link.failed(word)
        if answer.status in _SLOW_DOWN:
            self._slow_down()
            return SubmitOutcome(error=word, temporary=True)
        return SubmitOutcome(error=word, temporary=answer.status in _TRY_LATER or not answer.status)

    async def _pace(self) -> None:
        """Wait out a throttle pause, then for this part's slot under `tps`."""
        while (wait := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)  # the pause can grow while we wait
        if self._s.tps:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / self._s.tps
            if slot > now:
                await asyncio.sleep(slot - now)

    def _slow_down(self) -> None:
        self.throttled += 1
        now = time.monotonic()
        if now >= self._paused_until:
            self._paused_until = now + self._pause
            self._pause = min(self._pause * 2, self._s.throttle_pause_max_s)
            log.info("smpp throttled", extra={"channel": self.name, "pause_s": self._pause})

    # -- what the SMSC sends ----------------------------------------------------------

    async def _on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm):
            await self._take(pdu)
            return DeliverSmResp()
        if isinstance(pdu, DataSm):
            await self._take(mapping.as_deliver(pdu))
            return DataSmResp()
        return response_to(pdu.command_id, pdu.sequence, CommandStatus.ESME_RINVCMDID)

    async def _take(self, pdu: DeliverSm) -> None:
        """Commit a receipt or reply; returns once it is safe to acknowledge."""
        assert self._sink is not None
        item = mapping.inbound(pdu, self._s, self._gateway_prefix, _now_ms())
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
