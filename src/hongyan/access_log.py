"""The customer API's access log, kept off the serving thread and out of its process.

One line a request, at thousands of requests a second. Written as ordinary
log records, a line cost the serving thread ~28 µs (a LogRecord, the query's
redaction, the field bounds) and the log thread ~9 µs more for its JSON, all
under the GIL that the event loop needs: the API answered 17-24 % fewer
requests a second with its access log on (issue 13). Logging's queue handlers
still build each record on the caller's thread, and no library formats in
another process, hence this module.

Once `start()`ed (by `serve`, after `logs.configure`), a request's line is a
tuple of what the handler saw, appended to a deque (well under a
microsecond). A thread sends what has gathered, every `PAUSE_S`, as one
pickled batch through a pipe to a child process (`python -m
hongyan.access_log`) that redacts and bounds each line with the same
functions and formats it with the same `JsonFormatter` as every other log
line, onto the same stderr. Lines still gathered at `stop()` are sent first;
the child writes everything it was given before it ends, and ends with its
pipe. Not started (tests, library use), or after the child is gone, a line
is a plain log record on `hongyan.access` at once.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading

from hongyan.core.models import UID_MAX_LENGTH
from hongyan.logs import JsonFormatter, clip, redact_query

LOGGER = "hongyan.access"
# Bounds of the fields a client controls: a line costs the same whatever it sends.
QUERY_CHARS = 1024
UID_CHARS = UID_MAX_LENGTH
REASON_CHARS = 256
PAUSE_S = 0.05  # between two batches: lines reach the log within about this
MAX_PENDING = 200_000  # lines held while the child falls behind; more are counted, dropped

_FRAME = struct.Struct("!I")
log = logging.getLogger(__name__)
access = logging.getLogger(LOGGER)

# created (time.time()), method, path, stat, raw query string, uid, client address,
# reason, milliseconds taken
Line = tuple[float, str, str, int, bytes, str, str, str, float]


def make_record(line: Line) -> logging.LogRecord:
    """The log record of one line, its client-controlled fields redacted and bounded."""
    created, method, path, stat, query, uid, client, reason, ms = line
    record = logging.LogRecord(LOGGER, logging.INFO, "", 0, "%s %s %d", (method, path, stat), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.query = redact_query(query, QUERY_CHARS)
    record.uid = clip(uid, UID_CHARS)
    record.client = client
    record.stat = stat
    record.reason = clip(reason, REASON_CHARS)
    record.ms = round(ms, 2)
    return record


class AccessLog:
    def __init__(self) -> None:
        self._lines: collections.deque[Line] = collections.deque()
        self._child: subprocess.Popen[bytes] | None = None
        self._sender: threading.Thread | None = None
        self._stopping = threading.Event()
        self._dropped = 0

    @property
    def deferred(self) -> bool:
        return self._child is not None

    def add(self, line: Line) -> None:
        if self._child is None:
            if access.isEnabledFor(logging.INFO):
                access.handle(make_record(line))
        elif len(self._lines) < MAX_PENDING:
            self._lines.append(line)
        else:
            self._dropped += 1

    def start(self) -> None:
        """Lines from now on go to a writer process of their own, if the log
        says INFO; a second start() does nothing."""
        if self._child is not None or not access.isEnabledFor(logging.INFO):
            return
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        self._stopping.clear()
        self._sender = threading.Thread(target=self._send_loop, name="access-log", daemon=True)
        self._sender.start()

    def stop(self) -> None:
        """Send what has gathered, then wait for the child to write it and end."""
        child, sender = self._child, self._sender
        if child is None or sender is None:
            return
        self._stopping.set()
        sender.join(timeout=30)
        self._child = None
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        for line in self._take():  # added while the sender was finishing
            self.add(line)

    def _take(self) -> list[Line]:
        lines = self._lines
        return [lines.popleft() for _ in range(len(lines))]

    def _send_loop(self) -> None:
        child = self._child
        assert child is not None and child.stdin is not None
        while True:
            stopping = self._stopping.wait(PAUSE_S)
            batch = self._take()
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                log.warning(
                    "access log lines dropped: the writer fell behind", extra={"lines": dropped}
                )
            if batch:
                data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
                try:
                    child.stdin.write(_FRAME.pack(len(data)) + data)
                    child.stdin.flush()
                except (OSError, ValueError):
                    # The child is gone: these lines and the next as plain records here.
                    log.error("the access log's writer process ended", extra={"code": child.poll()})
                    self._child = None
                    with contextlib.suppress(OSError, ValueError):
                        child.stdin.close()  # a broken pipe may fail its flush
                    child.kill()  # if only its pipe broke
                    child.wait()
                    for line in batch + self._take():
                        self.add(line)
                    return
            if stopping:
                return


ACCESS = AccessLog()


def _write_lines() -> None:
    """The child: batches from stdin, JSON lines to stderr, until stdin ends.

    Other processes of `serve` write to the same stderr: each write() here
    holds whole lines, at most a pipe's atomic size where lines allow, so
    that no line is cut by another's."""
    formatter = JsonFormatter()
    source = sys.stdin.buffer
    while True:
        head = source.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return
        (size,) = _FRAME.unpack(head)
        # The pipe is our own parent's alone: nothing else can write to it.
        batch: list[Line] = pickle.loads(source.read(size))  # noqa: S301
        chunk = bytearray()
        try:
            for line in batch:
                data = (formatter.format(make_record(line)) + "\n").encode()
                if chunk and len(chunk) + len(data) > _ATOMIC:
                    _write_all(chunk)
                    chunk.clear()
                chunk += data
            if chunk:
                _write_all(chunk)
        except OSError:  # stderr is gone: nothing left to tell
            return


_ATOMIC = 4096  # PIPE_BUF on Linux


def _write_all(data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(2, view) :]


if __name__ == "__main__":
    import signal

    # Ended by its pipe, after the parent's last lines: not by the signals sent
    # to the whole process group (a terminal's ^C, timeout(1), systemd's stop),
    # which the parent handles by stopping and closing the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _write_lines()
