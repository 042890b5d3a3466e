"""The Python load generator: closed-loop HTTP/1.1 clients over raw sockets.

Each `Conn` is one keep-alive connection (an asyncio protocol) sending one
request at a time and reading only the status line, Content-Length and the
body of each answer. `drive` runs a set of them through one phase, bounded in
requests and in seconds, and returns its `Result`: answers, errors, latencies
and the client's own CPU. `asyncio_run` runs the client on uvloop when it is
installed, with the garbage collector off.
"""

from __future__ import annotations

import asyncio
import gc
import math
import resource
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from mt_api import HOST, OK_PREFIX
from report import note


@dataclass
class Result:
    """One measured load phase."""

    requests: int = 0  # answered, measured
    ok: int = 0
    messages: int = 0  # numbers answered 100
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, sorted at the end
    elapsed: float = 0.0
    client_cpu: float = 0.0
    known_ms: dict[float, float] = field(default_factory=dict)  # percentiles a driver reported

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile_ms(self, q: float) -> float:
        if q in self.known_ms:
            return self.known_ms[q]
        if not self.latencies:
            return float("nan")
        rank = max(1, math.ceil(q * len(self.latencies)))
        return self.latencies[rank - 1] * 1000


class Phase:
    """Shared state of one closed-loop run over a set of connections."""

    def __init__(
        self,
        make_request: Callable[[], bytes],
        numbers_per_request: int,
        max_requests: int,
        seconds: float,
    ) -> None:
        self.make_request = make_request
        self.numbers = numbers_per_request
        self.max_requests = max_requests
        self.seconds = seconds
        self.issued = 0
        self.result = Result()
        self.active = 0
        self.started = 0.0
        self.deadline = 0.0
        self.last_done = 0.0
        self.finished: asyncio.Future[None] | None = None

    def begin(self, conns: list[Conn]) -> asyncio.Future[None]:
        self.finished = asyncio.get_running_loop().create_future()
        self.started = self.last_done = time.perf_counter()
        self.deadline = self.started + self.seconds
        ready = [conn for conn in conns if conn.alive]
        self.active = len(ready)  # before any starts: one may go idle at once
        for conn in ready:
            conn.start(self)
        if self.active == 0 and not self.finished.done():
            self.finished.set_result(None)
        return self.finished

    def next_request(self) -> bytes | None:
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return None
        self.issued += 1
        return self.make_request()

    def answered(self, status: int, body: bytes, latency: float) -> None:
        r = self.result
        r.requests += 1
        r.latencies.append(latency)
        if status == 200 and body.startswith(OK_PREFIX):
            r.ok += 1
            r.messages += self.numbers
        else:
            r.errors[f"HTTP {status} {body[:80].decode('gbk', 'replace')!r}"] += 1

    def failed(self, reason: str) -> None:
        self.result.errors[reason] += 1

    def conn_idle(self) -> None:
        self.active -= 1
        self.last_done = time.perf_counter()
        if self.active == 0 and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.phase: Phase | None = None
        self.sent_at = 0.0
        self.alive = False
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.alive = True

    def start(self, phase: Phase) -> None:
        self.phase = phase
        self._send_next()

    def _send_next(self) -> None:
        phase = self.phase
        assert phase is not None and self.transport is not None
        request = phase.next_request() if self.alive else None
        if request is None:
            self.phase = None
            phase.conn_idle()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower() + b"\r\n"
        at = head.find(b"\r\ncontent-length:")
        try:
            length = int(head[at + 17 : head.find(b"\r\n", at + 17)]) if at >= 0 else 0
        except ValueError:
            self._broken(f"unreadable answer head {head[:200]!r}")
            return
        if len(buffer) < end + 4 + length:
            return
        latency = time.perf_counter() - self.sent_at
        body = bytes(buffer[end + 4 : end + 4 + length])
        del buffer[: end + 4 + length]
        if b"\r\nconnection: close" in head:
            self.close_after = True
        phase = self.phase
        if phase is None:
            return  # an answer nobody waits for (after a timeout)
        try:
            status = int(head[9:12])
        except ValueError:
            status = 0
        phase.answered(status, body, latency)
        if self.close_after:
            phase.failed("server closed the connection")
            self.alive = False
            self.close()
        self._send_next()

    def _broken(self, reason: str) -> None:
        """An answer this client cannot read: counted, and the connection dropped."""
        self.alive = False
        phase, self.phase = self.phase, None
        if phase is not None:
            phase.failed(reason)
            phase.conn_idle()
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        was_alive, self.alive = self.alive, False
        phase, self.phase = self.phase, None
        if phase is not None:
            phase.failed(f"connection lost ({exc or 'closed by the server'})")
            phase.conn_idle()
        elif was_alive and exc is not None:
            note(f"# idle connection lost: {exc}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_conns(port: int, count: int) -> list[Conn]:
    loop = asyncio.get_running_loop()
    pairs = await asyncio.gather(*(loop.create_connection(Conn, HOST, port) for _ in range(count)))
    return [conn for _, conn in pairs]


async def drive(
    conns: list[Conn],
    make_request: Callable[[], bytes],
    numbers: int,
    max_requests: int,
    seconds: float,
) -> Result:
    """One bounded closed-loop run; conns left open for the next run."""
    phase = Phase(make_request, numbers, max_requests, seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    finished = phase.begin(conns)
    try:
        await asyncio.wait_for(asyncio.shield(finished), timeout=seconds + 60)
    except TimeoutError:
        phase.failed(f"timed out: {phase.active} requests unanswered after {seconds + 60:.0f}s")
        for conn in conns:
            if conn.phase is phase:
                conn.phase = None
                conn.alive = False
                conn.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    r = phase.result
    r.elapsed = phase.last_done - phase.started
    r.client_cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    r.latencies.sort()
    return r


def asyncio_run(coro: Coroutine[Any, Any, None]) -> None:
    """Run the client, on uvloop when installed, without collector pauses in its measurements."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    gc.disable()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(coro)
    finally:
        gc.enable()
        gc.collect()
