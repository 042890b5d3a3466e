"""Passwords, lockouts, the legacy dialect and server keys, as an operator runs them:
the `hongyan` CLI against a running `hongyan serve` (issue 11 items 7, 8, 14)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import httpx

from hongyan.core.credentials import parse_keyring
from tests.integration.test_serve import HONGYAN, Serve, cli, cli_env, until

WAIT_S = 30.0  # a generous bound on a change reaching the server (its poll is 0.5 s)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def cli_with_input(directory: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HONGYAN, *args],
        cwd=directory,
        env=cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def create(directory: Path, uid: str, password: str) -> None:
    made = cli_with_input(
        directory, password + "\n", "account", "create", uid, "--password-stdin", "--balance", "10"
    )
    assert made.returncode == 0, made.stderr


def mm(serve: Serve, uid: str, pwd: str) -> bytes:
    return httpx.get(f"{serve.url}/mm/", params={"uid": uid, "pwd": pwd}).content


REMAIN_10 = b"sms&stat=100&remain=10"
AUTH_FAILED = "sms&stat=101&message=验证失败".encode("gbk")
LOCKED = "sms&stat=114&message=账号被锁，10分钟后登录".encode("gbk")


def test_account_password_changes_the_api_pwd_of_a_running_server(tmp_path: Path) -> None:
    create(tmp_path, "alice", "old-pass")
    serve = Serve(tmp_path)
    try:
        old, new = md5("old-pass" + "alice"), md5("n3w-pass" + "alice")
        assert mm(serve, "alice", old) == REMAIN_10
        changed = cli_with_input(
            tmp_path, "n3w-pass\n", "account", "password", "alice", "--password-stdin"
        )
        assert changed.returncode == 0, changed.stderr
        assert changed.stdout.strip() == (
            "changed the password of alice: its API pwd is now md5(new password + uid); "
            "the old pwd answers 101 from now on"
        )
        assert "n3w-pass" not in changed.stdout + changed.stderr
        # The old pwd works until the server's next poll, then never again
        # (polling with it costs one failure, not five).
        until(lambda: mm(serve, "alice", old) == AUTH_FAILED, timeout=WAIT_S)
        assert mm(serve, "alice", new) == REMAIN_10
        again = cli(tmp_path, "account", "password", "alice", "--password", "third")
        assert again.returncode == 0 and "md5(new password + uid)" in again.stdout
        missing = cli(tmp_path, "account", "password", "nobody", "--password", "x")
        assert missing.returncode == 1 and "no account 'nobody'" in missing.stderr
    finally:
        serve.stop()
    assert "n3w-pass" not in serve.output() and new not in serve.output()


def test_account_unlock_lifts_a_lock_in_a_running_server(tmp_path: Path) -> None:
    create(tmp_path, "bob", "pass")
    serve = Serve(tmp_path)
    try:
        pwd = md5("pass" + "bob")
        for _ in range(5):
            assert mm(serve, "bob", md5("wrong")) == AUTH_FAILED
        assert mm(serve, "bob", pwd) == LOCKED
        shown = cli(tmp_path, "account", "show", "bob").stdout
        assert re.search(r"locked out: 127\.0\.0\.1 until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", shown)

        other = cli(tmp_path, "account", "unlock", "bob", "--ip", "10.0.0.1")
        assert other.stdout.strip() == (
            "bob had no active lock for 10.0.0.1; its failed logins are forgotten"
        )
        assert mm(serve, "bob", pwd) == LOCKED
        bad = cli(tmp_path, "account", "unlock", "bob", "--ip", "somewhere")
        assert bad.returncode == 1 and "not an IP address" in bad.stderr

        lifted = cli(tmp_path, "account", "unlock", "bob")
        assert lifted.returncode == 0, lifted.stderr
        assert lifted.stdout.startswith("lifted the lock of bob for 127.0.0.1 until ")
        # Asking while locked records no failure: polling is safe.
        until(lambda: mm(serve, "bob", pwd) == REMAIN_10, timeout=WAIT_S)
        assert "locked out: none" in cli(tmp_path, "account", "show", "bob").stdout
    finally:
        serve.stop()


def test_dialect_and_md5_without_uid_from_the_cli(tmp_path: Path) -> None:
    create(tmp_path, "carol", "pass")
    refused = cli(tmp_path, "account", "bare-md5", "carol", "on", "--password", "pass")
    assert refused.returncode == 1 and "not a legacy account" in refused.stderr
    assert cli(tmp_path, "account", "dialect", "carol", "legacy").stdout.strip() == (
        "dialect of carol is legacy"
    )
    wrong = cli_with_input(
        tmp_path, "nope\n", "account", "bare-md5", "carol", "on", "--password-stdin"
    )
    assert wrong.returncode == 1 and "not the login password" in wrong.stderr
    on = cli_with_input(
        tmp_path, "pass\n", "account", "bare-md5", "carol", "on", "--password-stdin"
    )
    assert on.stdout.strip() == "pwd = md5(password) without uid for carol is on", on.stderr
    shown = cli(tmp_path, "account", "show", "carol").stdout
    assert "dialect legacy (pwd also md5(password) without uid)" in shown
    bad = cli(tmp_path, "account", "dialect", "carol", "klingon")
    assert bad.returncode == 1 and "legacy or standard" in bad.stderr

    serve = Serve(tmp_path)
    try:
        assert mm(serve, "carol", md5("pass" + "carol")) == b"100||10"
        assert mm(serve, "carol", md5("pass")) == b"100||10"
        sent = httpx.get(
            f"{serve.url}/tx",
            params={"uid": "carol", "pwd": md5("pass"), "mobile": "13900001234", "content": "x"},
        )
        assert sent.content == b"100"
        cli(tmp_path, "account", "dialect", "carol", "standard")
        until(lambda: mm(serve, "carol", md5("pass" + "carol")) == b"sms&stat=100&remain=9", WAIT_S)
        assert mm(serve, "carol", md5("pass")) == AUTH_FAILED
    finally:
        serve.stop()
    assert "standard" in cli(tmp_path, "account", "show", "carol").stdout


def older(directory: Path) -> int:
    status = cli(directory, "secret", "status").stdout
    found = re.search(r"accounts on an older key: (\d+)", status)
    assert found, status
    return int(found.group(1))


def test_rotating_the_server_key_locks_nobody_out(tmp_path: Path) -> None:
    """Accounts made before `secret rotate` still get in, on a server that was
    running through the rotation and after a restart; each moves to the new key
    at its next success; the old key is retired once none is on it."""
    create(tmp_path, "dave", "pass-d")
    create(tmp_path, "erin", "pass-e")
    dave, erin = md5("pass-d" + "dave"), md5("pass-e" + "erin")
    kept = tmp_path / "var" / "secret"
    first_key = parse_keyring(kept.read_text()).keys[1]
    serve = Serve(tmp_path)
    try:
        assert mm(serve, "dave", dave) == REMAIN_10
        rotated = cli(tmp_path, "secret", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert rotated.stdout.startswith("new server key version 2\n")
        assert "accounts on an older key: 2" in rotated.stdout
        assert kept.stat().st_mode & 0o777 == 0o600
        keys = parse_keyring(kept.read_text())
        assert keys.versions == (1, 2) and keys.keys[1] == first_key

        # An account made after the rotation is on key 2; the running server
        # takes it at once. Those made before still get in, and move to key 2.
        create(tmp_path, "fred", "pass-f")
        assert mm(serve, "fred", md5("pass-f" + "fred")) == REMAIN_10

        def dave_moved() -> bool:
            assert mm(serve, "dave", dave) == REMAIN_10
            return older(tmp_path) == 1

        until(dave_moved, timeout=WAIT_S)
    finally:
        serve.stop()

    serve = Serve(tmp_path)  # a restart: the ring comes from the file
    try:
        assert mm(serve, "erin", erin) == REMAIN_10
        assert older(tmp_path) == 0
        status = cli(tmp_path, "secret", "status").stdout
        assert "no longer used: version 1" in status
        retired = cli(tmp_path, "secret", "retire", "1")
        assert retired.returncode == 0, retired.stderr
        assert first_key not in kept.read_text()
        for uid, pwd in (("dave", dave), ("erin", erin), ("fred", md5("pass-f" + "fred"))):
            assert mm(serve, uid, pwd) == REMAIN_10
    finally:
        serve.stop()
    outputs = serve.output() + rotated.stdout + status + retired.stdout
    for key in (first_key, *keys.keys.values()):
        assert key not in outputs


def test_secret_rotate_refuses_a_secret_given_by_the_environment(tmp_path: Path) -> None:
    env = {**cli_env(), "HONGYAN_SECRET": "given-by-the-operator"}
    result = subprocess.run(
        [*HONGYAN, "secret", "rotate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "given by HONGYAN_SECRET" in result.stderr
    assert "given-by-the-operator" not in result.stderr + result.stdout
    assert not os.path.exists(tmp_path / "var" / "secret")


def test_an_on_off_switch_refuses_anything_else_and_changes_nothing(tmp_path: Path) -> None:
    create(tmp_path, "dora", "pass")
    before = cli(tmp_path, "account", "show", "dora").stdout
    assert "refund on failure off" in before
    for args in (("account", "refund", "dora", "yes"), ("account", "api-send", "dora", "1")):
        refused = cli(tmp_path, *args)
        assert refused.returncode == 1
        assert "say on or off" in refused.stderr
    assert cli(tmp_path, "account", "show", "dora").stdout == before
