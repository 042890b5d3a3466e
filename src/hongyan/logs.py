"""Structured logging, configured only by the CLI: one JSON object a line.

No password, `pwd` value or secret is ever logged; query strings are redacted
before they reach a log record (`redact_query`), judging parameter names as
the parser decodes them. Every field a client controls is cut to a bound
(`clip`): a log line costs the same whatever a client sends.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
from typing import Any, TextIO

from hongyan.protocol.params import redact

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def redact_query(query: bytes, limit: int = 1024) -> str:
    """The query string with the values of pwd/password/secret parameters replaced,
    cut to `limit` characters. Only what is kept is redacted: a cut never shows a
    secret (the value of a cut pair is still a secret's value), and the work stays
    the same for a 64 KB query."""
    kept = redact(query[:limit]).decode("latin-1")
    return kept if len(query) <= limit else f"{kept}…(+{len(query) - limit})"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit})"


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""
        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def format(self, record: logging.LogRecord) -> str:
        fields = {  # the extra fields, in their order
            key: value
            for key, value in record.__dict__.items()
            if key not in _RESERVED and key[0] != "_"
        }
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted already, where the record was made
            fields["exc"] = record.exc_text
        return self.line(
            record.created, record.levelname.lower(), record.name, record.getMessage(), fields
        )

    def line(
        self, created: float, level: str, logger: str, msg: str, fields: dict[str, Any]
    ) -> str:
        """One line of the log, for a record or for what needs none (`access_log.py`)."""
        second = int(created)
        if second != self._second:  # one strftime a second, not one a line
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = int((created - second) * 1000)
        entry = {"ts": f"{self._stamp}.{millis:03d}Z", "level": level, "logger": logger, "msg": msg}
        entry.update(fields)
        return self._encode(entry)


class BatchingHandler(logging.Handler):
    """Hands records to a thread of its own, which formats them and writes
    whatever has gathered in one write.

    The serving thread pays for a LogRecord and a queue put, never for the
    JSON, the write or the flush. A write on the event loop's thread gave up
    the GIL for the syscall, and taking it back behind the store's writer
    thread cost up to a switch interval: one access line a request cost the
    server 40 % of its requests a second at 64 concurrent sends (issue 13). The stdlib's
    QueueListener hands records over but writes each alone, hence this class.
    Records still queued are written at `close()` (logging's own shutdown at
    exit calls it), so nothing said before the process ends is lost.
    """

    BATCH = 4096  # records a write, at most
    PAUSE_S = 0.05  # between two writes under load: lines reach the stream within it

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        # What must be read now, while the caller's objects are as they were:
        # the message with its arguments, and the exception's text.
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self._queue.put(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # No lock: emit() only puts on a thread-safe queue.
        rv = self.filter(record)
        if rv:
            self.emit(record)
        return bool(rv)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None and len(batch) < self.BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines = [self._line(r) for r in batch if r is not None]
            if lines:
                try:
                    self._stream.write("\n".join(lines) + "\n")
                    self._stream.flush()
                except (OSError, ValueError):  # the stream is gone: nothing to tell
                    pass
            if batch[-1] is None:
                return
            # Under load, gather for a while before the next write: each wake-up
            # of this thread takes the GIL from the serving thread. Idle, the
            # get() above blocks and costs nothing.
            time.sleep(self.PAUSE_S)

    def _line(self, record: logging.LogRecord) -> str:
        try:
            return self.format(record)
        except Exception:  # one bad record must not stop the others
            return json.dumps({"level": "error", "msg": "unformattable log record"})

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        super().close()


def configure(level: str = "INFO") -> None:
    # What a record would gather and our lines never show: the caller's file
    # and line (a walk up the stack), thread, process and task names. Turned
    # off as the logging HOWTO's "Optimization" section says.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]
    handler = BatchingHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would print the raw query string (with pwd): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
