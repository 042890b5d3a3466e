"""The customer API's access log, kept off the serving thread.

One line a request, at thousands of requests a second. Written as ordinary
log records, a line cost the serving thread ~28 µs (a LogRecord, the query's
redaction, the field bounds) and the log thread ~9 µs more for its JSON, all
under the GIL the event loop needs: with nobody delivering, the API answered
7-24 % fewer requests a second with its access log on (issue 13). Logging's
queue handlers still build each record on the caller's thread, hence this
module.

Once `start()`ed (by `serve`), a request's line is a tuple of what the
handler saw, appended to a deque (0.6 µs). A thread of its own takes what
has gathered every `PAUSE_S`, redacts and bounds each line with the same
functions as before and formats it with the same `JsonFormatter.line` as
every other log line, straight from the tuple (14 µs, no record), and writes
whole lines to stderr. A child process doing that part instead cost ~6 % of
the requests while delivering, when both cores are busy: the work is small,
a third process taking turns on the cores was not. Lines still gathered at
`stop()` are written before it returns. Not started (tests, library use), a
line is a plain log record on `hongyan.access` at once.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from typing import Any

from hongyan.core.models import UID_MAX_LENGTH
from hongyan.logs import JsonFormatter, clip, redact_query

LOGGER = "hongyan.access"
# Bounds of the fields a client controls: a line costs the same whatever it sends.
QUERY_CHARS = 1024
UID_CHARS = UID_MAX_LENGTH
REASON_CHARS = 256
PAUSE_S = 0.05  # between two writes: lines reach the log within about this
MAX_PENDING = 200_000  # lines held while the writer falls behind; more are counted, dropped
_ATOMIC = 4096  # PIPE_BUF on Linux: a write of at most this is never cut by another's

log = logging.getLogger(__name__)
access = logging.getLogger(LOGGER)

# created (time.time()), method, path, stat, raw query string, uid, client address,
# reason, milliseconds taken
Line = tuple[float, str, str, int, bytes, str, str, str, float]


def fields_of(line: Line) -> tuple[str, dict[str, Any]]:
    """The message and the fields of one line, its client-controlled ones redacted and bounded."""
    _, method, path, stat, query, uid, client, reason, ms = line
    return f"{method} {path} {stat}", {
        "query": redact_query(query, QUERY_CHARS),
        "uid": clip(uid, UID_CHARS),
        "client": client,
        "stat": stat,
        "reason": clip(reason, REASON_CHARS),
        "ms": round(ms, 2),
    }


def make_record(line: Line) -> logging.LogRecord:
    msg, fields = fields_of(line)
    record = logging.LogRecord(LOGGER, logging.INFO, "", 0, msg, None, None)
    record.created = line[0]
    record.msecs = (line[0] - int(line[0])) * 1000
    record.__dict__.update(fields)
    return record


class AccessLog:
    def __init__(self, fd: int = 2) -> None:
        self._fd = fd
        self._lines: collections.deque[Line] = collections.deque()
        self._writer: threading.Thread | None = None
        self._stopping = threading.Event()
        self._dropped = 0

    @property
    def deferred(self) -> bool:
        return self._writer is not None

    def add(self, line: Line) -> None:
        if self._writer is None:
            if access.isEnabledFor(logging.INFO):
                access.handle(make_record(line))
        elif len(self._lines) < MAX_PENDING:
            self._lines.append(line)
        else:
            self._dropped += 1

    def start(self) -> None:
        """Lines from now on are written by a thread of their own, if the log
        says INFO; a second start() does nothing."""
        if self._writer is not None or not access.isEnabledFor(logging.INFO):
            return
        self._stopping.clear()
        self._writer = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._writer.start()

    def stop(self) -> None:
        """Write what has gathered, and go back to plain records."""
        writer = self._writer
        if writer is None:
            return
        self._stopping.set()
        writer.join(timeout=30)
        self._writer = None
        for line in self._take():  # added while the writer was finishing
            self.add(line)

    def _take(self) -> list[Line]:
        lines = self._lines
        return [lines.popleft() for _ in range(len(lines))]

    def _run(self) -> None:
        formatter = JsonFormatter()
        while True:
            stopping = self._stopping.wait(PAUSE_S)
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                log.warning(
                    "access log lines dropped: its writer fell behind", extra={"lines": dropped}
                )
            chunk: list[bytes] = []
            size = 0
            for line in self._take():
                msg, fields = fields_of(line)
                data = (formatter.line(line[0], "info", LOGGER, msg, fields) + "\n").encode()
                if chunk and size + len(data) > _ATOMIC:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(data)
                size += len(data)
            if chunk:
                self._write(b"".join(chunk))
            if stopping:
                return

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:  # the stream is gone: nothing to tell
            pass


ACCESS = AccessLog()
