"""How uvicorn serves the platform: options, and a protocol that frames requests itself.

A small subclass of uvicorn's httptools protocol. It gathers each request
head itself, to escape raw high bytes in its request line (`api/framing.py`:
real clients put raw GBK or UTF-8 in URLs, and no parser accepts that), and
passes the body through untouched (`Content-Length` bytes, or a chunked body
to its end, as `ChunkedReader` finds it); so keep-alive, pipelining and the
stray CRLF some clients send after a body all work, and every head after a
body is framed and bounded like the first.

Framing is also where a hostile client is stopped (issue 11), since neither
httptools nor uvicorn bounds a head, its headers, or the time to send it
(the bounds: `api/limits.py`; what connections share: `api/door.py`):

- a request line, the header fields and their count are bounded, and a head
  must be complete `head_timeout_s` after its first byte;
- a body over its endpoint's limit (`Content-Length`) is refused before a byte
  of it is buffered (a chunked one is answered by the application, and the
  rest dropped); a body comes at `body_min_rate` on average, never silent
  for `body_timeout_s`;
- a connection idle `idle_timeout_s` (after opening or an answer) closes, and
  at most `max_pipelined_requests` of its requests wait parsed for an answer;
- connections are counted in all and per client address, and the bytes of
  bodies in progress against a budget; a client must take its answers.

How a connection is counted, timed and refused, whatever is being framed:
`api/guard.py`, the base of this protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl

from hongyan.api.door import Refusal
from hongyan.api.framing import (
    ChunkedReader,
    HeadReader,
    body_framing,
    escape_request_line,
    expects_continue,
    request_path,
)
from hongyan.api.guard import GuardedProtocol, Wait


class _Flow(FlowControl):
    """uvicorn's flow control, but reading stays paused while `held()`: uvicorn
    resumes it after every answer and whenever a request waits for its body."""

    def __init__(self, transport: asyncio.Transport, held: Callable[[], bool]) -> None:
        super().__init__(transport)
        self._held = held

    def resume_reading(self) -> None:
        if not self._held():
            super().resume_reading()


class RawUrlTolerantProtocol(GuardedProtocol):
    """uvicorn's httptools protocol, escaping raw high bytes in request lines, with bounds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = HeadReader(self.limits)  # a request head being gathered
        self._body_left = 0  # bytes of the current body still to pass through
        self._chunks: ChunkedReader | None = None  # a chunked body being passed through
        self._chunked_cycle: Any = None  # the request it is the body of, once parsed
        self._chunked = 0  # bytes of the current chunked body passed through
        self._chunked_limit = 0
        self._unparsed = b""  # read past max_pipelined_requests: parsed as answers go

    # -- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _Flow(transport, lambda: bool(self._unparsed))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._unparsed = b""

    # -- framing -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._wait is Wait.LINGER:
            self._drop(len(data))
            return
        if self._unparsed:  # behind what waits already
            data, self._unparsed = self._unparsed + data, b""
        out = bytearray()
        heads = 0  # requests handed to the parser in `out`
        while data:
            if self._chunks is not None:
                rest = self._chunked_body(data, out)
                if rest is None:
                    return
                data = rest
                continue
            if self._body_left:
                take = min(len(data), self._body_left)
                out += data[:take]
                data = data[take:]
                self._body_left -= take
                self._got_body(take)
                if not self._body_left:
                    self._wait = Wait.APP
                continue
            if not self._head:
                if heads + self._waiting() >= self.limits.max_pipelined_requests:
                    self._unparsed = data  # until answers go out (on_response_complete)
                    self.flow.pause_reading()
                    break
                stripped = self._head.skip_blank(data)
                if stripped is None:
                    self._feed(out)
                    self.transport.close()  # endless blank lines, never a request
                    return
                data = stripped
                if not data:
                    break  # only blank lines between requests so far
                self._expect(Wait.HEAD, self.limits.head_timeout_s)
            got, data = self._head.add(data), b""
            if isinstance(got, Refusal):
                self._feed(out)
                self._refuse(got, self._head.path)
                return
            if got is None:
                break
            head, data = got
            if not self._admit_body(head, out):
                self._drop(len(data))  # the start of the refused body
                return
            out += escape_request_line(head)
            heads += 1
        self._feed(out)

    def _chunked_body(self, data: bytes, out: bytearray) -> bytes | None:
        """Pass on what of `data` is the chunked body; the bytes after its end, or
        None when the connection reads no further requests."""
        assert self._chunks is not None
        if self._chunked_cycle is None:
            self._feed(out)  # its head first: the latest cycle is then this request's
            out.clear()
            if self._wait is Wait.LINGER:  # the parser refused the head
                self._drop(len(data))
                return None
            self._chunked_cycle = self.cycle
        took = self._chunks.scan(data)
        if took is None:  # not a chunked body, or one over the bounds of its lines
            self._feed(out)
            self._give_up_body(Refusal.BAD_REQUEST)
            self._drop(len(data))
            return None
        self._chunked += took
        self._got_body(took)
        cycle = self._chunked_cycle
        if self._chunked > self._chunked_limit and cycle is not None and cycle.response_complete:
            # Past its limit, answered (103): the rest is no one's to read.
            self._feed(out)
            self._drop_after_answer(len(data))
            return None
        out += data[:took]
        if self._chunks.done:
            self._chunks = self._chunked_cycle = None
            self._wait = Wait.APP
        return data[took:]

    def _admit_body(self, head: bytes, out: bytearray) -> bool:
        """Set up the framing of the body after `head`; False if the request is refused."""
        length, chunked = body_framing(head)
        self._last_head = head
        if not (length or chunked):
            self._wait = Wait.APP
            return True
        path = request_path(head)
        reserved = self.door.admit_body(path, length, chunked)
        if isinstance(reserved, Refusal):
            self._feed(out)
            # A declared body within the discard bound is read first and the answer
            # follows: the client, held by TCP back-pressure, finishes writing, reads
            # it, and leaves nothing behind. Unless it waits for `100 Continue`.
            drain = 0 < length <= self.limits.discard_max_bytes and not expects_continue(head)
            self._refuse(reserved, path, discard=length, drain_first=drain)
            return False
        self._reserved += reserved
        self._body_left = 0 if chunked else length
        self._chunks = ChunkedReader(self.limits) if chunked else None
        self._chunked_cycle = None
        self._chunked, self._chunked_limit = 0, self.door.body_limit(path)
        self._expect(Wait.BODY, self.limits.body_timeout_s)
        return True

    def _feed(self, out: bytearray) -> None:
        if out:
            super().data_received(bytes(out))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._settle()  # the answer may have gone before the body ended

    def on_response_complete(self) -> None:
        # uvicorn's own, but for its keep-alive timer (one a response): ours judges idleness.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        chunked = self._chunked_cycle
        over = self._chunked > self._chunked_limit
        if over and chunked is not None and chunked.response_complete:
            self._drop_after_answer(0)  # its own answer went, not an earlier request's
            return
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        if self._unparsed:
            self.data_received(b"")  # parse on, as far as the bound allows
        self.flow.resume_reading()  # unless some is still unparsed
        if self._pending is not None and not self._in_flight():
            self._send_refusal(self._pending)
        self._settle()

    def _settle(self) -> None:
        """Nothing left to answer and nothing coming: wait idle for the next request."""
        if self._wait is Wait.APP and not self._in_flight():
            self.door.release(self._reserved)
            self._reserved = 0
            self._expect(Wait.IDLE, self.limits.idle_timeout_s)

    def _drop_after_answer(self, size: int) -> None:
        """A chunked body went on after its answer: its end, which keep-alive would
        wait for, may be 16 MB away or never come. The rest is dropped like a
        refused body's (paced, bounded), and the connection half-closes."""
        self._chunks = self._chunked_cycle = None
        self.door.refused(Refusal.BODY_TOO_LARGE, self._peer(), request_path(self._last_head))
        self._discard = self.limits.discard_max_bytes
        self._expect(Wait.LINGER, self.limits.body_timeout_s)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._drop(size)

    def _stop_framing(self) -> None:
        self._head.clear()
        self._body_left = 0
        self._chunks = self._chunked_cycle = None

    # -- deadlines ------------------------------------------------------------------------

    def _expired(self) -> None:
        if self.transport.is_closing() or self._wait is Wait.APP:
            return
        if self._wait in (Wait.HEAD, Wait.BODY) and self.flow.read_paused:
            # uvicorn stopped reading (a pipelined request waits its turn): not the client's fault.
            self._deadline.set(self.limits.body_timeout_s)
        elif self._wait is Wait.HEAD:
            self._refuse(Refusal.HEAD_TIMEOUT, self._head.path, close=True)
        elif self._wait is Wait.BODY:
            self._body_timed_out()
        elif self._held is not None:  # a refused body that stopped coming
            self._send_held()
        else:  # idle, or lingering over
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._give_up_body(Refusal.BODY_TIMEOUT)

    def _give_up_body(self, refusal: Refusal) -> None:
        """The body of the latest request will not be read: the application stops
        waiting for it, and the client gets `refusal` unless its answer began."""
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started  # or answering
        if cycle is not None and not cycle.response_complete:
            # The application stops waiting for the body, and its answer goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        if answered:  # no second answer to one request
            self.door.refused(refusal, self._peer(), request_path(self._last_head))
            self.transport.close()
            return
        self._refuse(refusal, request_path(self._last_head), close=True)


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """Options for uvicorn.run / uvicorn.Config shared by `serve` and the tests."""
    return {
        "host": host,
        "port": port,
        "http": RawUrlTolerantProtocol,
        "lifespan": "on",
        "access_log": False,  # ours redacts the query string; uvicorn's would log pwd
        "server_header": False,
        "log_config": None,
        # X-Forwarded-For is ours to judge (settings.trusted_proxies), not uvicorn's.
        "proxy_headers": False,
    }
