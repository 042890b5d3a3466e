"""A connection at the front door: counted, timed, and refused (issue 11).

The base of the HTTP protocol (`api/server.py`, which frames requests): what a
connection does whatever is being framed. The door counts it, in all and per
client address (`api/door.py`); it waits for one thing at a time from its
client (`Wait`), under one deadline; a client that stops taking its answers
is cut off; and a request is refused in the protocol's form when its path is
known.

Closing with unread data resets the connection, and a client still writing
its body would lose the answer (RFC 9112 §9.6): so a refused body within
`discard_max_bytes` is read and dropped first, then answered; otherwise the
answer goes at once and the connection half-closes and drops what still
comes. Dropping is paced (`discard_rate`, `discard_rate_total`): over
loopback it otherwise costs a core.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hongyan.api.deadline import Deadline, StalledWrites
from hongyan.api.door import Refusal, answer, find_door, paced
from hongyan.api.framing import request_path


class Wait(enum.Enum):
    """What a connection is waiting for from its client, which sets its deadline."""

    IDLE = "idle"  # the next request (nothing sent yet)
    HEAD = "head"  # the rest of a request head
    BODY = "body"  # the rest of a body
    APP = "app"  # nothing: the application is answering
    LINGER = "linger"  # the client to stop sending after a refusal


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a connection's bounds and refusals;
    a subclass frames the requests (`_expired`, `_stop_framing`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.door = find_door(self.app)
        self.limits = self.door.limits
        self._client_key: str | None = None  # set once the door let the connection in
        self._last_head = b""  # the last head handed to the parser
        self._reserved = 0  # body bytes this connection holds of the door's budget
        self._discard = 0  # lingering after a refusal: bytes still to read and drop
        self._pending: bytes | None = None  # a refusal waiting for the answers before it
        self._held: bytes | None = None  # a refusal to send once its body is drained
        self._drop_clock = 0.0  # pace of this connection's dropping (door.paced)
        self._close_after_refusal = False
        self._wait = Wait.IDLE
        self._deadline = Deadline(self.loop, self._expired)
        self._writes = StalledWrites(self.loop, self._unsent, self._answers_not_taken)

    # -- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        entered = self.door.enter(self._peer())
        if isinstance(entered, Refusal):
            # Over a connection limit: answer at once (the path is not known yet)
            # and free the file descriptor; lingering would hold it.
            self.door.refused(entered, self._peer(), None)
            self._wait = Wait.LINGER
            transport.write(answer(None, entered))
            transport.close()
            return
        self._client_key = entered
        self._expect(Wait.IDLE, self.limits.idle_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._deadline.cancel()
        self._writes.resumed()
        if self._client_key is not None:
            self.door.leave(self._client_key)
            self._client_key = None
        self.door.release(self._reserved)
        self._reserved = 0

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writes.paused(self.limits.body_timeout_s)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writes.resumed()

    def _unsent(self) -> int:
        return self.transport.get_write_buffer_size()

    def _answers_not_taken(self) -> None:
        self.door.refused(Refusal.ANSWERS_NOT_READ, self._peer(), request_path(self._last_head))
        self.transport.abort()  # nothing can be said to a client that does not read

    def _peer(self) -> str:
        return self.client[0] if self.client else ""

    def _waiting(self) -> int:
        """Requests handed to the parser whose answers are not written yet: those
        queued, and the latest parsed (the one running when none is queued)."""
        cycle = self.cycle
        running = cycle is not None and not cycle.response_complete and not cycle.disconnected
        return len(self.pipeline) + running

    def _in_flight(self) -> bool:
        """An answer is still to be written for a request already handed to the application."""
        return self._waiting() > 0

    # -- refusing --------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses: the protocol's answer, not uvicorn's plain text."""
        self._refuse(Refusal.BAD_REQUEST, request_path(self._last_head))

    def _refuse(
        self,
        refusal: Refusal,
        path: str | None,
        discard: int = 0,
        close: bool = False,
        drain_first: bool = False,
    ) -> None:
        """Answer `refusal`; then read and drop what the client still sends, and close
        (at once with `close`: a client too slow to wait for). With `drain_first`, the
        `discard` bytes of its body are read and dropped before the answer."""
        if self._wait is Wait.LINGER:
            return  # refused already
        self.door.refused(refusal, self._peer(), path)
        self._stop_framing()
        most = self.limits.discard_max_bytes
        self._discard = min(discard, most) if discard > 0 else most
        self._close_after_refusal = close
        self._expect(Wait.LINGER, self.limits.body_timeout_s)
        reply = answer(path, refusal)
        if drain_first:
            self._held = reply
            return
        self._answer_refusal(reply)

    def _answer_refusal(self, reply: bytes) -> None:
        if self._in_flight():
            # Answers go out in order: this one after those of the requests before it.
            self._pending = reply
            return
        self._send_refusal(reply)

    def _send_refusal(self, reply: bytes) -> None:
        self._pending = None
        if self.transport.is_closing():
            return
        self.transport.write(reply)
        if self._close_after_refusal or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the client reads the answer, then the end
        self.flow.resume_reading()

    def _drop(self, size: int) -> None:
        """Lingering: what the client still sends after a refusal is read and dropped,
        at a pace (per connection, and for all of them together)."""
        self._discard -= size
        self._got_body(size)
        if self.transport.is_closing():
            return
        if self._held is not None and self._discard <= 0:
            self._send_held()
            return
        if self._discard < 0:
            self.transport.close()
            return
        now = self.loop.time()
        self._drop_clock = paced(self._drop_clock, now, size, self.limits.discard_rate)
        delay = max(self._drop_clock - now, self.door.discard_delay(size, now))
        if delay > 0:
            self.transport.pause_reading()
            self.loop.call_later(delay, self._resume_dropping)

    def _send_held(self) -> None:
        """The body of a refused request is read (or the client stopped sending it):
        answer, and close; nothing is left unread to reset the connection."""
        reply, self._held = self._held, None
        if reply is not None:
            self._close_after_refusal = True
            self._answer_refusal(reply)

    def _resume_dropping(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    # -- timers ------------------------------------------------------------------------

    def _got_body(self, size: int) -> None:
        """A body (or what is dropped) keeps coming: at body_min_rate on average,
        never silent for more than body_timeout_s."""
        limits = self.limits
        self._deadline.extend(size / limits.body_min_rate, most=limits.body_timeout_s)

    def _expect(self, wait: Wait, timeout: float) -> None:
        """Wait for `wait` from the client, at most `timeout` seconds from now."""
        self._wait = wait
        self._deadline.set(timeout)

    def _expired(self) -> None:
        """The deadline of what the connection waits for has passed."""
        raise NotImplementedError

    def _stop_framing(self) -> None:
        """Forget the request being framed: it is refused."""
        raise NotImplementedError
