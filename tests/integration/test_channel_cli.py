"""`hongyan channel pause/resume/list` against a running `hongyan serve`: the
delivery worker is another process, and notices at its next poll."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import httpx

from tests.integration.test_access_cli import create
from tests.integration.test_serve import Serve, cli, until

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")


def audit(directory: Path) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(directory / "var" / "hongyan.db") as db:
        return db.execute(
            "SELECT action, target, via, before, after FROM audit_log"
            " WHERE target LIKE 'channel:%' ORDER BY id"
        ).fetchall()


def test_pause_holds_messages_in_the_worker_process_and_resume_sends_them(
    tmp_path: Path,
) -> None:
    create(tmp_path, "alice", "secret-1")
    pwd = hashlib.md5(b"secret-1alice").hexdigest()
    unknown = cli(tmp_path, "channel", "pause", "nope")
    assert unknown.returncode == 1 and "no channel 'nope'" in unknown.stderr
    paused = cli(tmp_path, "channel", "pause", "simulator")
    assert paused.returncode == 0, paused.stderr
    assert "channel simulator paused" in paused.stdout
    again = cli(tmp_path, "channel", "pause", "simulator")
    assert "already paused" in again.stdout

    serve = Serve(tmp_path)
    try:
        sent = httpx.post(
            f"{serve.url}/mt/",
            data={"uid": "alice", "pwd": pwd, "mobile": "13900001234", "content": "hi"},
        )
        assert sent.content == SUCCESS

        def listed() -> str:
            shown = cli(tmp_path, "channel", "list")
            assert shown.returncode == 0, shown.stderr
            return shown.stdout

        # The worker holds the message for the paused channel: queued for it, not failed.
        def held() -> bool:
            shown = listed()
            line = re.search(r"^simulator \[simulator\] on (\S+): PAUSED, up", shown, re.M)
            return line is not None and "1 queued for it" in shown

        until(held)

        resumed = cli(tmp_path, "channel", "resume", "simulator")
        assert resumed.returncode == 0 and "channel simulator resumed" in resumed.stdout
        assert "was not paused" in cli(tmp_path, "channel", "resume", "simulator").stdout

        def delivered() -> bool:
            answer = httpx.get(f"{serve.url}/st/", params={"uid": "alice", "pwd": pwd})
            return b",100" in answer.content

        until(delivered)
        assert "PAUSED" not in listed()
    finally:
        serve.stop()
    entries = audit(tmp_path)
    assert [(a, t, v) for a, t, v, _, _ in entries] == [
        ("channel.pause", "channel:simulator", "cli"),
        ("channel.resume", "channel:simulator", "cli"),
    ]
    assert [(json.loads(b), json.loads(a)) for _, _, _, b, a in entries] == [
        ({"paused": False}, {"paused": True}),
        ({"paused": True}, {"paused": False}),
    ]
