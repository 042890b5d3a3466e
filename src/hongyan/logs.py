"""Structured logging, configured only by the CLI: one JSON object a line.

No password, `pwd` value or secret is ever logged; query strings are redacted
before they reach a log record (`redact_query`), judging parameter names as
the parser decodes them. Every field a client controls is cut to a bound
(`clip`): a log line costs the same whatever a client sends.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

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
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would print the raw query string (with pwd): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
