"""`hongyan serve --role api` and `--role worker`: the customer API in one
process and delivery in another, on one SQLite file (issue 13)."""

from __future__ import annotations

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
