"""The access log written off the serving thread (issue 13): every line a
request made is written, redacted and bounded, as whole lines, including
those still gathered when the server stops; not started, lines are records."""

from __future__ import annotations

import json
import logging
import tempfile
import time

import pytest

from hongyan.access_log import AccessLog

SECRET = "0123456789abcdef0123456789abcdef"


def line(i: int, uid: str = "u") -> tuple[float, str, str, int, bytes, str, str, str, float]:
    query = f"uid={uid}&pwd={SECRET}&mobile={i}".encode()
    return (time.time(), "GET", "/mt/", 100, query, uid, "127.0.0.1", "", 1.5)


def test_every_line_is_written_redacted_even_those_left_at_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hongyan.access")  # as `serve` configures it
    with tempfile.TemporaryFile() as out:
        log = AccessLog(out.fileno())
        log.start()
        assert log.deferred
        for i in range(5000):
            log.add(line(i, "u" * 500))
        log.stop()  # at once: most lines are still gathered here
        assert not log.deferred
        out.seek(0)
        text = out.read().decode()
    entries = [json.loads(row) for row in text.splitlines()]
    assert sorted(int(e["query"].rsplit("=", 1)[1]) for e in entries) == list(range(5000))
    assert SECRET not in text
    first = entries[0]
    assert first["logger"] == "hongyan.access" and first["msg"] == "GET /mt/ 100"
    assert first["query"].startswith("uid=" + "u" * 500 + "&pwd=***&mobile=")
    assert len(first["uid"]) < 100 and first["stat"] == 100 and first["ms"] == 1.5
    assert first["ts"].endswith("Z") and first["level"] == "info"


def test_not_started_a_line_is_a_log_record_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hongyan.access")
    AccessLog().add(line(7))
    [record] = [r for r in caplog.records if r.name == "hongyan.access"]
    assert record.getMessage() == "GET /mt/ 100"
    assert record.query == "uid=u&pwd=***&mobile=7"
