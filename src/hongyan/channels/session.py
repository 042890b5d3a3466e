"""One connection of a length-framed request/response protocol (SMPP, CMPP),
either side: framing, sequence numbers, the window, response timeouts, the
keep-alive probe, the goodbye. All the I/O of the SMPP and CMPP code is here;
their codecs only turn bytes into PDUs (STYLE.md item 2), and a `Wire` says
what differs between them (which PDUs are the probe and the goodbye, what to
answer a PDU that cannot be read).

A `Session` is an asyncio protocol. Requests it sends wait for a window slot
(at most `window` outstanding, SMPP 3.4 §2.10 leaves the number to the
parties), carry the next sequence number (§5.1.4: 1 to 0x7FFFFFFF, wrapping)
and resolve with the peer's response, a `TimeoutError` past
`response_timeout_s`, or `ConnectionLost`. Requests it receives go to the
handler it was made with, each in its own task, and the handler's PDU is sent
back as the response; a handler that fails answers ESME_RX_T_APPN (deliver_sm,
data_sm: "try again later", §5.1.3) or ESME_RSYSERR. enquire_link and unbind
are answered here. When nothing has come in for `enquire_link_s`, an
enquire_link goes out; one left unanswered marks the link dead and the
connection is dropped. Nothing is tied to the ESME role, so the SMSC and
ISMG simulators use the same machinery. The SMPP names above are the SMPP
wire's; CMPP's are ACTIVE_TEST and TERMINATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from hongyan.channels.framing import FrameError, Framer

log = logging.getLogger(__name__)

Pdu = Any  # the wire's PDU: has `sequence`, `command_id` and `is_response`
# Called with the session (of the protocol's own subclass) and a request.
Handler = Callable[[Any, Pdu], Awaitable[Pdu | None]]


class Unreadable(Exception):
    """A frame the wire could not read: what to do about it."""

    def __init__(
        self,
        reason: str,
        sequence: int,
        response: bool,
        answer: Pdu | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sequence = sequence
        self.response = response  # it was a response: the request waiting for it fails
        self.answer = answer  # what to send back, if anything
        self.status = status  # the protocol's error code for it, where it has one


class Wire(Protocol):
    protocol: str  # for the log: "smpp", "cmpp"
    probe_name: str  # for a dead link's error: "enquire_link", "ACTIVE_TEST"

    def framer(self) -> Framer: ...

    def encode(self, pdu: Pdu) -> bytes: ...

    def decode(self, frame: bytes) -> Pdu:
        """The PDU of a frame; `Unreadable` if it cannot be read."""
        ...

    def broken_stream(self) -> Pdu | None:
        """What to send before hanging up on an impossible frame length."""
        ...

    def answer_here(self, pdu: Pdu) -> tuple[Pdu, bool] | None:
        """The answer to a request the session serves itself (the probe, the
        goodbye), and whether to close after it; None for the handler's."""
        ...

    def handler_failed(self, pdu: Pdu) -> Pdu | None:
        """The answer to a request whose handler raised."""
        ...

    def probe(self) -> Pdu: ...

    def goodbye(self) -> Pdu: ...

    def expected_stray(self, pdu: Pdu) -> bool:
        """A response to nothing that needs no note in the log (generic_nack)."""
        ...


_MAX_SEQUENCE = 0x7FFFFFFF
_TICK_S = 0.5


class ConnectionLost(ConnectionError):
    """The connection closed while a request waited for its response."""


class Session(asyncio.Protocol):
    def __init__(
        self,
        name: str,
        handler: Handler,
        wire: Wire,
        *,
        window: int = 32,
        response_timeout_s: float = 10.0,
        enquire_link_s: float = 30.0,
    ) -> None:
        self.name = name
        self.bound = False
        self.system_id = ""  # the peer's, once bound (the SMSC side fills it in)
        self.last_error = ""
        self._handler = handler
        self.wire = wire
        self._window = window
        self._timeout = response_timeout_s
        self._enquire_s = enquire_link_s
        self._transport: asyncio.Transport | None = None
        self._framer = wire.framer()
        self._sequence = 0
        self._pending: dict[int, tuple[asyncio.Future[Pdu], float]] = {}
        self._slots = asyncio.Semaphore(window)
        self._closed = asyncio.get_running_loop().create_future()
        self._last_heard = time.monotonic()
        self._hung_until = 0.0
        self._keepalive: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()
        self.received = 0
        self.sent = 0

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but are one.
        self._transport = cast(asyncio.Transport, transport)
        self._keepalive = asyncio.create_task(self._watch(), name=f"{self.name}-keepalive")

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        self._framer.feed(data)
        try:
            frames = self._framer.frames()
        except FrameError as exc:
            # The stream cannot be followed past a bad length: say so and hang up.
            self.last_error = f"bad frame: {exc}"
            log.warning(
                f"{self.wire.protocol} stream broken",
                extra={"session": self.name, "error": str(exc)},
            )
            if (answer := self.wire.broken_stream()) is not None:
                self.send(answer)
            self.close()
            return
        for frame in frames:
            self._on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bound = False
        if exc is not None and not self.last_error:
            self.last_error = f"connection lost: {exc}"
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"{self.name}: connection closed"))
        if self._keepalive is not None:
            self._keepalive.cancel()
        if not self._closed.done():
            self._closed.set_result(None)

    # -- what comes in -------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        self.received += 1
        try:
            pdu = self.wire.decode(frame)
        except Unreadable as exc:
            log.warning(
                f"{self.wire.protocol} pdu refused",
                extra={"session": self.name, "error": exc.reason, "status": exc.status},
            )
            entry = self._pending.pop(exc.sequence, None) if exc.response else None
            if entry is not None and not entry[0].done():
                entry[0].set_exception(exc)
            if exc.answer is not None:
                self.send(exc.answer)
            return
        if pdu.is_response:
            entry = self._pending.pop(pdu.sequence, None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(pdu)
            elif not self.wire.expected_stray(pdu):
                log.info(f"{self.wire.protocol} response to nothing", extra={"session": self.name})
            return
        here = self.wire.answer_here(pdu)
        if here is not None:
            answer, closing = here
            self.send(answer)
            if closing:
                self.bound = False
                self.last_error = "peer unbound"
                self.close()
            return
        task = asyncio.create_task(self._serve(pdu))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, pdu: Pdu) -> None:
        try:
            answer = await self._handler(self, pdu)
        except Exception:
            log.exception(
                f"{self.wire.protocol} request handler failed", extra={"session": self.name}
            )
            answer = self.wire.handler_failed(pdu)
        if answer is not None:
            answer.sequence = pdu.sequence
            self.send(answer)

    # -- what goes out ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def window(self) -> int:
        return self._window

    def send(self, pdu: Pdu) -> None:
        """Write a PDU that needs no answer (a response, generic_nack)."""
        if self.connected:
            assert self._transport is not None
            self._transport.write(self.wire.encode(pdu))
            self.sent += 1

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a request within the window; its response (any status)."""
        async with self._slots:
            if not self.connected:
                raise ConnectionLost(f"{self.name}: not connected")
            assert self._transport is not None
            self._sequence = self._sequence % _MAX_SEQUENCE + 1
            pdu.sequence = self._sequence
            future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
            self._pending[pdu.sequence] = (future, time.monotonic() + self._timeout)
            self._transport.write(self.wire.encode(pdu))
            self.sent += 1
            return await future

    async def unbind(self, timeout_s: float = 2.0) -> None:
        """Say goodbye and close (SMPP's unbind, CMPP's TERMINATE); a peer that
        does not answer is cut off."""
        if self.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request(self.wire.goodbye()), timeout_s)
        self.bound = False
        self.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._closed), timeout_s)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def hang(self, seconds: float) -> None:
        """Read nothing for `seconds`, the connection left open: a peer that
        has gone silent (the SMSC simulator's freeze; it sends nothing on a
        session that `hung` meanwhile)."""
        if self.connected:
            assert self._transport is not None
            self._transport.pause_reading()
            self._hung_until = max(self._hung_until, time.monotonic() + seconds)
            asyncio.get_running_loop().call_later(seconds, self._wake_up)

    @property
    def hung(self) -> bool:
        return time.monotonic() < self._hung_until

    @property
    def hung_s(self) -> float:
        """Seconds of silence left (0: not hung)."""
        return max(0.0, self._hung_until - time.monotonic())

    def _wake_up(self) -> None:
        if self.connected and not self.hung:  # a later, longer hang still holds
            assert self._transport is not None
            self._transport.resume_reading()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # -- timers ------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Expire requests past their deadline; enquire_link when quiet (§4.11)."""
        probe: asyncio.Task[Pdu] | None = None
        while self.connected:
            await asyncio.sleep(_TICK_S)
            if self.hung:
                continue  # silent means silent: no probes, no timeouts of our own
            now = time.monotonic()
            expired = [seq for seq, (_, deadline) in self._pending.items() if deadline <= now]
            for seq in expired:
                future, _ = self._pending.pop(seq)
                if not future.done():
                    future.set_exception(TimeoutError(f"{self.name}: no response"))
            if probe is not None and probe.done():
                if probe.cancelled() or probe.exception() is not None:
                    self.last_error = f"link dead: {self.wire.probe_name} unanswered"
                    log.warning(f"{self.wire.protocol} link dead", extra={"session": self.name})
                    self.abort()
                    return
                probe = None
            if probe is None and self.bound and now - self._last_heard >= self._enquire_s:
                # Answered within the response time, its wait for a window slot
                # included: a peer that lets a whole window of requests go
                # unanswered (a frozen process) is as dead as a silent one.
                answer = self.request(self.wire.probe())
                probe = asyncio.create_task(asyncio.wait_for(answer, self._timeout))
                probe.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Task[Pdu]) -> None:
    """Mark a probe's failure as seen (the watcher reads it, or the session is gone)."""
    if not task.cancelled():
        task.exception()
