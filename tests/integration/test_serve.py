"""`hongyan serve` as an operator runs it, and the CLI working on it from outside."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hongyan.core.credentials import api_password
from tests import waiting

HONGYAN = [sys.executable, "-m", "hongyan"]
SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    def __init__(self, directory: Path, *args: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / f"serve-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*HONGYAN, "serve", "--port", str(self.port), *args],
                cwd=directory,
                env=cli_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + waiting.WAIT_S
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env["HONGYAN_RELOAD_INTERVAL_S"] = "0.5"
    env["HONGYAN_SQLITE_SYNCHRONOUS"] = "NORMAL"
    return env


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HONGYAN, *args],
        cwd=directory,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=waiting.WAIT_S,
    )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Serve]:
    serve = Serve(tmp_path, "--demo")
    yield serve
    serve.stop()


def demo_credentials(output: str) -> tuple[str, str]:
    uid = re.search(r"uid\s+(\S+)", output)
    pwd = re.search(r"pwd\s+([0-9a-f]{32})", output)
    assert uid and pwd, output
    return uid.group(1), pwd.group(1)


def until(predicate, timeout: float = waiting.WAIT_S) -> float:  # type: ignore[no-untyped-def]
    """Seconds until predicate() held; fails after a generous bound."""
    return waiting.until(predicate, getattr(predicate, "__name__", "the condition"), timeout)


def test_demo_account_and_its_curl_line_work(demo: Serve) -> None:
    output = demo.output()
    uid, pwd = demo_credentials(output)
    curl = re.search(r"curl -s '([^']+)'", output)
    assert curl, output
    assert httpx.get(curl.group(1)).content == SUCCESS
    assert httpx.get(f"{demo.url}/mm/", params={"uid": uid, "pwd": pwd}).text == (
        "sms&stat=100&remain=9999"
    )


def test_a_second_start_prints_the_same_demo_account(tmp_path: Path) -> None:
    first = Serve(tmp_path, "--demo")
    first.stop()
    credentials = demo_credentials(first.output())
    second = Serve(tmp_path, "--demo")
    second.stop()
    assert demo_credentials(second.output()) == credentials


def test_cli_changes_apply_to_the_running_server_without_a_restart(demo: Serve) -> None:
    uid, pwd = demo_credentials(demo.output())
    auth = {"uid": uid, "pwd": pwd}

    def mm_stat(stat: str) -> bool:
        return f"stat={stat}" in httpx.get(f"{demo.url}/mm/", params=auth).text

    def mt(**params: str) -> bytes:
        return httpx.get(f"{demo.url}/mt/", params={**auth, **params}).content

    assert cli(demo.directory, "account", "freeze", uid).stdout.strip() == f"froze {uid}"
    until(lambda: mm_stat("109"))
    cli(demo.directory, "account", "unfreeze", uid)
    until(lambda: mm_stat("100"))

    cli(demo.directory, "ops", "maintenance", "on")
    until(lambda: mm_stat("120"))
    cli(demo.directory, "ops", "maintenance", "off")
    until(lambda: mm_stat("100"))

    cli(demo.directory, "account", "limits", uid, "--per-number", "off")
    cli(demo.directory, "keywords", "add", "赌博")
    until(
        lambda: (
            mt(mobile="13900001111", content="来赌 博")
            == "sms&stat=104&message=非法字符".encode("gbk")
        )
    )

    cli(demo.directory, "ops", "pause")
    until(lambda: b"stat=111" in mt(mobile="13900001112", content="hello"))
    cli(demo.directory, "ops", "resume")
    until(lambda: mt(mobile="13900001113", content="hello") == SUCCESS)

    cli(demo.directory, "account", "bind-ip", uid, "10.9.9.9")
    until(lambda: mm_stat("117"))
    cli(demo.directory, "account", "unbind-ip", uid, "10.9.9.9")
    until(lambda: mm_stat("100"))


def test_logs_never_carry_the_pwd_value(demo: Serve) -> None:
    uid, pwd = demo_credentials(demo.output())
    start = len(demo.output())
    httpx.get(f"{demo.url}/mt/", params={"uid": uid, "pwd": pwd, "mobile": "1", "content": "x"})
    httpx.post(f"{demo.url}/mt/?pwd={pwd}", data={"uid": uid, "pwd": pwd, "mobile": "x"})
    httpx.get(f"{demo.url}/mm/", params={"uid": uid, "pwd": pwd.upper()})
    httpx.get(f"{demo.url}/mm/", params={"uid": uid, "pwd": "wrong" + pwd})
    until(lambda: demo.output()[start:].count("GET /mm/") >= 2)  # the last request logged
    logged = demo.output()[start:]
    assert "GET /mt/" in logged and "pwd=***" in logged
    assert pwd not in logged.lower()


def test_health_and_metrics(demo: Serve) -> None:
    uid, pwd = demo_credentials(demo.output())
    httpx.get(f"{demo.url}/mm/", params={"uid": uid, "pwd": pwd})
    assert httpx.get(f"{demo.url}/healthz").text == "ok"
    exposition = httpx.get(f"{demo.url}/metrics").text
    assert 'hongyan_api_requests_total{endpoint="mm",stat="100"} 1.0' in exposition
    assert "hongyan_api_request_seconds_bucket" in exposition
    assert "hongyan_parts_charged_total" in exposition


def test_several_worker_processes_share_one_database_and_metrics(tmp_path: Path) -> None:
    # The limits set before the workers start: no worker has to reload them.
    cli(tmp_path, "account", "create", "multi", "--password", "multi-pw", "--balance", "10000")
    cli(tmp_path, "account", "limits", "multi", "--rate", "off", "--per-number", "off")
    uid, pwd = "multi", api_password("multi-pw", "multi")
    serve = Serve(tmp_path, "--workers", "2")
    try:
        with httpx.Client(base_url=serve.url) as client:
            answers = [
                client.get(
                    "/mt/",
                    params={"uid": uid, "pwd": pwd, "mobile": f"1390000{i:04d}", "content": "x"},
                ).content
                for i in range(20)
            ]
            remain = client.get("/mm/", params={"uid": uid, "pwd": pwd}).text
            exposition = client.get("/metrics").text
    finally:
        serve.stop()
    assert answers == [SUCCESS] * 20
    assert remain == "sms&stat=100&remain=9980"
    assert 'hongyan_api_requests_total{endpoint="mt",stat="100"} 20.0' in exposition


def test_cli_commands_say_what_they_did_and_fail_clearly(tmp_path: Path) -> None:
    created = cli(tmp_path, "account", "create", "alice", "--password", "123123", "--balance", "5")
    assert created.returncode == 0 and "created account alice: balance 5" in created.stdout
    assert "extension 0001" in cli(tmp_path, "account", "show", "alice").stdout
    topped = cli(tmp_path, "account", "topup", "alice", "10", "--note", "first")
    assert topped.stdout.strip() == "topped up alice by 10 parts: balance 15"
    limits = cli(tmp_path, "account", "limits", "alice", "--rate", "5", "--per-number", "2/h")
    assert limits.stdout.strip() == "limits of alice: rate 5/s, per number 2/h"
    assert cli(tmp_path, "account", "api-send", "alice", "off").returncode == 0
    assert cli(tmp_path, "keywords", "list").stdout.strip() == "no blocked keywords"
    for args, message in [
        (("account", "show", "bob"), "no account 'bob'"),
        (("account", "topup", "alice", "-5", "--note", "x"), "a top-up is 1 to"),
        (("account", "topup", "alice", "5", "--note", " "), "give a note"),
        (("account", "bind-ip", "alice", "300.1.1.1"), "not an IP address"),
        (("account", "api-send", "alice", "maybe"), "on or off"),
        (("account", "create", "alice", "--password", "x"), "already exists"),
        (("keywords", "remove", "nothing"), "no keyword"),
        (("account", "limits", "alice", "--per-number", "lots"), "bad limit"),
        (("--config", "missing.toml", "account", "show", "alice"), "config file not found"),
    ]:
        result = cli(tmp_path, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    env = {**cli_env(), "HONGYAN_DATABASE_URL": "postgresql+asyncpg://u:secretpw@127.0.0.1:1/x"}
    down = subprocess.run(
        [*HONGYAN, "account", "show", "alice"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert down.returncode == 1 and "is unavailable" in down.stderr
    assert "secretpw" not in down.stderr and "Traceback" not in down.stderr


def test_mo_inject_channel_list_and_refund_from_the_cli(demo: Serve) -> None:
    uid, pwd = demo_credentials(demo.output())
    auth = {"uid": uid, "pwd": pwd}
    shown = cli(demo.directory, "account", "show", uid).stdout
    gateway = re.search(r"replies arrive on (\d+)\[mid\]", shown)
    assert gateway, shown
    injected = cli(
        demo.directory,
        "mo",
        "inject",
        "--from",
        "13900008888",
        "--uid",
        uid,
        "--mid",
        "7",
        "--text",
        "好的",
    )
    assert injected.returncode == 0, injected.stderr
    assert injected.stdout.strip() == (
        f"reply from 13900008888 to {gateway.group(1)}7 recorded for account {uid}"
    )
    body = httpx.get(f"{demo.url}/rx/", params=auth).content.decode("gbk")
    assert body.startswith("100{&}13900008888||好的||") and body.endswith(f"||{gateway.group(1)}7")
    assert httpx.get(f"{demo.url}/rx/", params=auth).content == b""
    stray = cli(
        demo.directory, "mo", "inject", "--from", "13900008888", "--to", "999", "--text", "x"
    )
    assert "no account (unattributed)" in stray.stdout
    bad = cli(demo.directory, "mo", "inject", "--from", "x", "--uid", uid, "--text", "x")
    assert bad.returncode == 1 and "not a valid mobile" in bad.stderr

    assert cli(demo.directory, "account", "refund", uid, "on").stdout.strip() == (
        f"refund on failure for {uid} is on"
    )
    assert "refund on failure on" in cli(demo.directory, "account", "show", uid).stdout

    def listed() -> bool:
        out = cli(demo.directory, "channel", "list").stdout
        # Held by the serving node (host:pid:token), up.
        line = re.search(r"^simulator \[simulator\] on [^:\s]+:\d+:[0-9a-f]+: up", out, re.M)
        return line is not None and "messages queued" in out

    until(listed)


def test_the_whole_delivery_flow_as_a_new_user_would_run_it(demo: Serve) -> None:
    """Send to three numbers (one invalid) → three reports by /st/ with the ids
    given → a reply injected by the CLI comes back once by /rx/ → /rd/ and /mm/
    agree with what happened. Real server process, real sockets."""
    uid, pwd = demo_credentials(demo.output())
    auth = {"uid": uid, "pwd": pwd}
    sent = httpx.post(
        f"{demo.url}/mt/",
        data={
            **auth,
            "mobile": "13911112222,1391111test,13911110000",
            "mobileids": "m1,m2,m3",
            "content": "flow",
        },
    )
    assert sent.content == SUCCESS
    got: list[list[str]] = []

    def all_reported() -> bool:
        body = httpx.get(f"{demo.url}/st/", params=auth).text
        got.extend(line.split(",") for line in body.split("\n") if body)
        return len(got) >= 3

    until(all_reported)
    assert sorted((r[0], r[1], r[2]) for r in got) == [
        ("13911110000", "UNDELIV", "m3"),
        ("13911112222", "100", "m1"),
        ("1391111test", "112", "m2"),
    ]
    cli(demo.directory, "mo", "inject", "--from", "13911112222", "--uid", uid, "--text", "TD")
    replies = httpx.get(f"{demo.url}/rx/", params=auth).text
    assert replies.startswith("100{&}13911112222||TD||")
    assert httpx.get(f"{demo.url}/rx/", params=auth).content == b""
    records = httpx.get(f"{demo.url}/rd/", params=auth).content.decode("gbk").split("|#|")
    assert records[0] == "3||3||1"
    assert sorted((r.split("||")[1], r.split("||")[3]) for r in records[1:]) == [
        ("13911110000", "UNDELIV"),
        ("13911112222", "100"),
        ("1391111test", "112"),
    ]
    # Two valid numbers charged one part each; no refund by default.
    assert httpx.get(f"{demo.url}/mm/", params=auth).text == "sms&stat=100&remain=9998"
    assert httpx.get(f"{demo.url}/mm/", params={**auth, "cmd": "send"}).text == (
        "sms&stat=100&remain=2"
    )
