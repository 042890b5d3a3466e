"""Push across a crash: `hongyan serve` killed mid-push and started again loses nothing.

Push is configured by the real CLI. The receiver fails every third request,
so at the kill some items are pushed, some wait for a retry and some are
in flight. After the restart every report and reply must reach the
receiver at least once, the outbox must empty, and nothing may be left for
the pull endpoints (it was all pushed).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

from hongyan.testing import FAIL, OK, PushReceiver
from tests.integration.test_crash import SUCCESS, Server, until
from tests.integration.test_serve import HONGYAN, cli_env

UID, PASSWORD = "pushed", "push-password"
PWD = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
MESSAGES, REPLIES = 3000, 5
SETTINGS = {
    "HONGYAN_ACCESS_LOG": "false",
    "HONGYAN_LEASE_S": "2",
    "HONGYAN_SIMULATOR__DELAY_MIN_S": "0",
    "HONGYAN_SIMULATOR__DELAY_MAX_S": "0.5",
    "HONGYAN_PUSH__ALLOWED_NETWORKS": '["127.0.0.1/32"]',
    "HONGYAN_PUSH__LEASE_S": "2",
    "HONGYAN_PUSH__POLL_S": "0.05",
    "HONGYAN_PUSH__RETRY_BASE_S": "0.2",
    "HONGYAN_PUSH__RETRY_MAX_S": "1",
    "HONGYAN_PUSH__BREAKER_FAILURES": "1000",
}


def hongyan(directory: Path, *args: str) -> str:
    done = subprocess.run(
        [*HONGYAN, *args],
        cwd=directory,
        env={**cli_env(), **SETTINGS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def outbox(directory: Path) -> int:
    with sqlite3.connect(directory / "var" / "hongyan.db", timeout=30) as db:
        (count,) = db.execute("SELECT count(*) FROM push_outbox").fetchone()
    return int(count)


def test_a_restart_mid_push_loses_no_report_or_reply(tmp_path: Path) -> None:
    receiver = PushReceiver(script=lambda n: FAIL if n % 3 == 0 else OK).start()
    try:
        hongyan(tmp_path, "account", "create", UID, "--password", PASSWORD, "--balance", "10000")
        hongyan(tmp_path, "account", "limits", UID, "--rate", "off", "--per-number", "off")
        out = hongyan(
            tmp_path, "account", "push", UID, "--reports", receiver.url, "--replies", receiver.url
        )
        assert f"reports to {receiver.url}" in out and "unsigned" in out
        first = Server(tmp_path, SETTINGS)
        try:
            for n in range(REPLIES):
                hongyan(
                    tmp_path,
                    "mo",
                    "inject",
                    "--from",
                    "13900001111",
                    "--text",
                    f"r{n}",
                    "--uid",
                    UID,
                )
            ids = [f"m{i}" for i in range(MESSAGES)]
            for start in range(0, MESSAGES, 1500):
                form = {
                    "uid": UID,
                    "pwd": PWD,
                    "mobile": ",".join(f"1390{i:07d}" for i in range(start, start + 1500)),
                    "mobileids": ",".join(ids[start : start + 1500]),
                    "content": "push me",
                }
                assert first.http.post("/mt/", data=form).content == SUCCESS
            until(lambda: len(receiver.forms()) >= 200, 60, "pushes under way")
        finally:
            first.kill()
        waiting = outbox(tmp_path)
        print(f"killed with {len(receiver.forms())} pushed, {waiting} in the outbox")
        assert waiting > 0, "not killed mid-push"
        status = hongyan(tmp_path, "push", "status", UID)
        assert f"{UID} reports to {receiver.url}" in status

        receiver.script = None
        receiver.mode = OK
        second = Server(tmp_path, SETTINGS)
        try:

            def arrived() -> bool:
                forms = receiver.forms()
                reports = {f["mobileids"] for f in forms if f["cmd"] == "status"}
                replies = {f["content"] for f in forms if f["cmd"] == "res"}
                return reports == set(ids) and replies == {f"r{n}" for n in range(REPLIES)}

            until(arrived, 90, "every report and reply pushed after the restart")
            until(lambda: outbox(tmp_path) == 0, 30, "the outbox empties")
            for path in ("/st/", "/rx/"):  # nothing was left for the pull endpoints
                assert second.http.get(path, params={"uid": UID, "pwd": PWD}).content == b""
        finally:
            second.stop()
        assert "0 queued, 0 retrying, 0 given up" in hongyan(tmp_path, "push", "status", UID)
    finally:
        receiver.stop()


def test_push_is_refused_by_the_cli_for_a_private_address(tmp_path: Path) -> None:
    hongyan(tmp_path, "account", "create", UID, "--password", PASSWORD)
    done = subprocess.run(
        [*HONGYAN, "account", "push", UID, "--reports", "http://10.1.2.3/cb"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "10.1.2.3" in done.stderr and "not a public address" in done.stderr
    assert "push off" in hongyan(tmp_path, "account", "show", UID)
    off = hongyan(tmp_path, "account", "push", UID, "--off")
    assert "push for pushed is off" in off
