"""`hongyan serve --role api` and `--role worker`: the customer API in one
process and delivery in another, on one SQLite file; and plain `serve`, which
runs them so by itself, the worker as its child (issue 13)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from hongyan.core.credentials import api_password
from tests import waiting
from tests.integration.test_serve import HONGYAN, SUCCESS, Serve, cli_env


def states(directory: Path) -> list[str]:
    with sqlite3.connect(directory / "var" / "hongyan.db") as db:
        return [state for (state,) in db.execute("SELECT state FROM messages ORDER BY id")]


@pytest.mark.parametrize("processes", [[], ["--workers", "2"]], ids=["one", "two-api-workers"])
def test_the_api_accepts_and_a_worker_process_delivers(
    tmp_path: Path, processes: list[str]
) -> None:
    api = Serve(tmp_path, "--demo", "--role", "api", *processes)
    worker: subprocess.Popen[bytes] | None = None
    try:
        password = (tmp_path / "var" / "demo-password").read_text().strip()
        auth = {"uid": "demo", "pwd": api_password(password, "demo")}
        numbers = ["13900001001", "13900001002", "13900001003"]
        for number in numbers:
            answer = httpx_get(api.url + "/mt/", {**auth, "mobile": number, "content": "分工"})
            assert answer == SUCCESS
        # Nothing here delivers: an API process leaves the messages to a worker.
        assert states(tmp_path) == ["queued"] * 3

        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [*HONGYAN, "serve", "--role", "worker"],
                cwd=tmp_path,
                env=cli_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        reports: list[str] = []

        def reported() -> bool:
            text = httpx_get(api.url + "/st/", auth).decode("gbk")
            reports.extend(line for line in text.split("\n") if line.strip())
            return len(reports) >= 3

        waiting.until(reported, "the worker delivered and the API handed out three reports")
        # mobile,status,mobileid,time a line (spec §5)
        assert sorted(line.split(",")[0] for line in reports) == numbers
        assert states(tmp_path) == ["delivered"] * 3

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=waiting.WAIT_S) == 0
        assert "delivery worker stopped" in log.read_text()
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        api.stop()


def test_a_worker_is_one_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [*HONGYAN, "serve", "--role", "worker", "--workers", "2"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=waiting.WAIT_S,
    )
    assert done.returncode != 0
    assert "one process" in done.stdout + done.stderr


def httpx_get(url: str, params: dict[str, str]) -> bytes:
    return httpx.get(url, params=params, timeout=60).content


def children(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def worker_children(pid: int) -> list[int]:
    out = []
    for child in children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if b"--role" in argv and argv[argv.index(b"--role") + 1] == b"worker":
            out.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has ended


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_plain_serve_runs_one_worker_child_and_restarts_it_when_it_fails(tmp_path: Path) -> None:
    serve = Serve(tmp_path, "--demo", "--workers", "2")
    try:
        password = (tmp_path / "var" / "demo-password").read_text().strip()
        auth = {"uid": "demo", "pwd": api_password(password, "demo")}
        waiting.until(lambda: worker_children(serve.process.pid), "the worker child started")
        # One worker whatever --workers says: it owns the channels.
        (first,) = worker_children(serve.process.pid)

        def delivered(number: str) -> bool:
            answer = httpx_get(serve.url + "/mt/", {**auth, "mobile": number, "content": "hi"})
            assert answer == SUCCESS
            return True

        delivered("13900002001")
        waiting.until(lambda: states(tmp_path) == ["delivered"], "the child delivered")

        os.kill(first, signal.SIGKILL)  # a crash of the worker alone
        waiting.until(
            lambda: [p for p in worker_children(serve.process.pid) if p != first],
            "serve started another worker",
        )
        assert len(worker_children(serve.process.pid)) == 1
        delivered("13900002002")
        waiting.until(lambda: states(tmp_path) == ["delivered"] * 2, "the new worker delivered")
        assert "delivery worker process failed; restarting it" in serve.output()

        (second,) = worker_children(serve.process.pid)
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=waiting.WAIT_S) == 0
        assert not alive(second)
        assert "delivery worker stopped" in serve.output()
    finally:
        serve.stop()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_a_killed_serve_takes_its_worker_child_with_it(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        waiting.until(lambda: worker_children(serve.process.pid), "the worker child started")
        (worker,) = worker_children(serve.process.pid)
        serve.process.kill()
        serve.process.wait()
        # A new serve must not find the old worker still running the channels.
        waiting.until(lambda: not alive(worker), "the worker child died with serve")
    finally:
        serve.stop()
