"""The access log written by a process of its own (issue 13): every line a
request made reaches stderr, redacted and bounded, including those still
gathered when the server stops; if the writer dies, lines are log records."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hongyan.access_log import AccessLog
from tests.integration.hostile import wait_for

SECRET = "0123456789abcdef0123456789abcdef"


def test_every_line_reaches_stderr_redacted_even_those_left_at_stop() -> None:
    script = textwrap.dedent(
        f"""
        import logging, time
        from hongyan import logs
        from hongyan.access_log import ACCESS
        logs.configure("INFO")
        ACCESS.start()
        for i in range(5000):
            query = b"uid=u&pwd={SECRET}&mobile=%d" % i
            ACCESS.add((time.time(), "GET", "/mt/", 100, query, "u" * 500, "127.0.0.1", "", 1.5))
        ACCESS.stop()  # at once: most lines are still gathered here
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    access = [line for line in lines if line["logger"] == "hongyan.access"]
    assert sorted(int(a["query"].rsplit("=", 1)[1]) for a in access) == list(range(5000))
    assert SECRET not in done.stderr
    first = access[0]
    assert first["msg"] == "GET /mt/ 100"
    assert first["query"].startswith("uid=u&pwd=***&mobile=")
    assert len(first["uid"]) < 100 and first["stat"] == 100 and first["ms"] == 1.5


def test_lines_are_log_records_when_the_writer_process_is_gone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hongyan.access")
    log = AccessLog()
    log.start()
    try:
        assert log.deferred
        child = log._child
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        query = f"uid=u&pwd={SECRET}&n=after".encode()

        def fallen_back() -> bool:
            log.add((0.0, "GET", "/mm/", 101, query, "u", "127.0.0.1", "", 1.0))
            return not log.deferred

        wait_for(fallen_back, "the access log to notice its writer is gone")
        records = [r for r in caplog.records if r.name == "hongyan.access"]
        assert records, "the lines sent to the dead writer came back as records"
        assert all(getattr(r, "query", "") == "uid=u&pwd=***&n=after" for r in records)
    finally:
        log.stop()
