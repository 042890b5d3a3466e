"""Console benchmark: the records pages, the overview and a CSV export on an
account with a million messages.

    .venv/bin/python bench/console.py [--messages 1000000] [--requests 200]

It makes a temporary platform with the `hongyan` CLI, inserts `--messages`
messages for one account straight into the SQLite file in bulk (spread over
90 days, 1,000 numbers a batch at most, 4 % failed with carriers' words),
starts `hongyan serve` as users run it (default settings, access log on) on
a free 127.0.0.1 port, signs in as a browser does, and measures one after
another, each bounded by `--requests`:

  * `records_first`: the newest page; `records_number`: a number's messages;
    `records_failed`: the failed ones; `records_deep`: a page 900,000
    messages back (its cursor id taken from the file);
  * `overview`: `/console/` as it is;
  * `export`: `/console/records.csv` of every message, streamed: its time,
    rows and bytes, and the server's RSS (VmRSS of its processes, sampled
    every 20 ms from /proc) before and at its peak during the export.

Figures go to stdout, one a line (`name value unit`); notes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from report import machine, note
from server_process import _default_hongyan, free_port

HOST = "127.0.0.1"
UID = "benchconsole"
PASSWORD = "bench-console-password"
DAY_MS = 86_400_000
TEXTS = (
    "【鸿雁科技】您的验证码是 {n}，5 分钟内有效，请勿泄露给他人。",
    "【鸿雁商城】您的订单 {n} 已发货，快递单号 SF{n}，请注意查收。回复 TD 退订",
    "【鸿雁物业】尊敬的业主，本周六上午 9:00-12:00 小区停水检修，请提前储水。",
)
FAILURES = ("UNDELIV", "EXPIRED", "REJECTD", "MK:0001", "DB:0141", "ESME_RINVDSTADR")


def figure(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    print(f"{name} {text} {unit}", flush=True)


class Platform:
    """`hongyan serve` on a temporary SQLite file, started by the CLI as users do."""

    def __init__(self, hongyan: str, workdir: Path) -> None:
        self.hongyan = hongyan
        self.dir = workdir
        self.var = workdir / "var"
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env["HONGYAN_VAR_DIR"] = str(self.var)
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *argv: str) -> str:
        done = subprocess.run(
            [self.hongyan, *argv],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hongyan {' '.join(argv)}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> None:
        argv = [self.hongyan, "serve", "--host", HOST, "--port", str(self.port)]
        note("# " + " ".join(argv))
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 (the server's for its life)
        self.proc = subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("the server did not become healthy within 120 s")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_kib(self) -> int:
        """VmRSS of the server and its children (workers), in KiB."""
        assert self.proc is not None
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                for task in os.listdir(f"/proc/{pid}/task"):
                    todo += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        return total

    def finish(self, keep: bool) -> None:
        """Stop the server; its directory kept (and said where) or removed."""
        self.stop()
        if keep:
            note(f"# kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def fill(db_path: Path, messages: int, seed: int = 12) -> tuple[list[str], list[int]]:
    """`messages` messages of the bench account, in bulk; some numbers and ids to ask for."""
    rng = random.Random(seed)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    (account_id,) = db.execute("SELECT id FROM accounts WHERE uid = ?", (UID,)).fetchone()
    (ext,) = db.execute("SELECT ext_code FROM accounts WHERE id = ?", (account_id,)).fetchone()
    numbers = [f"13{rng.randrange(10**9):09d}" for _ in range(200_000)]
    now = int(time.time() * 1000)
    start = now - 90 * DAY_MS
    step = (now - start) / messages
    made = 0
    next_submission = 1
    while made < messages:
        size = min(rng.choice((1, 1, 1, 1, 5, 20, 200, 1000)), messages - made)
        sid = next_submission
        next_submission += 1
        created = int(start + made * step)
        text = rng.choice(TEXTS).format(n=rng.randrange(100_000, 999_999))
        parts = 1 if len(text) <= 70 else 2
        db.execute(
            "INSERT INTO submissions (id, account_id, content, mid, source, parts, created_at,"
            " due_at) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
            (sid, account_id, text, "10690" + ext, parts, created, created),
        )
        rows = []
        for _ in range(size):
            draw = rng.random()
            recent = created > now - 60_000
            status = "0" if recent else "100" if draw > 0.04 else rng.choice(FAILURES)
            state = "sent" if recent else "delivered" if status == "100" else "failed"
            mobile = rng.choice(numbers)
            rows.append(
                (
                    sid,
                    account_id,
                    mobile,
                    f"{mobile}{created}",
                    parts,
                    parts,
                    state,
                    status,
                    created,
                    created,
                    None if recent else created + 3000,
                    1,
                )
            )
        db.executemany(
            "INSERT INTO messages (submission_id, account_id, mobile, mobileid, parts, charged,"
            " state, status, created_at, due_at, done_at, attempts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        made += size
        if next_submission % 2000 == 0:
            db.commit()
    db.commit()
    ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM messages WHERE account_id = ? ORDER BY created_at DESC, id DESC"
            " LIMIT 20 OFFSET ?",
            (account_id, max(0, messages - 100_000)),
        )
    ]
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return numbers, ids


def sign_in(client: httpx.Client) -> None:
    client.get("/console/sign-in")
    pre = client.cookies.get("hy_pre")
    answer = client.post(
        "/console/sign-in", data={"uid": UID, "password": PASSWORD, "csrf": pre or ""}
    )
    if answer.status_code != 303 or "hy_session" not in client.cookies:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


def timed(client: httpx.Client, name: str, paths: list[str], requests: int) -> None:
    for path in paths[:5]:  # warm-up, not counted
        client.get(path).raise_for_status()
    times = []
    for i in range(requests):
        started = time.perf_counter()
        answer = client.get(paths[i % len(paths)])
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{name}: {paths[i % len(paths)]} answered {answer.status_code}")
    figure(f"{name}_p50", statistics.median(times), "ms")
    figure(f"{name}_p95", statistics.quantiles(times, n=20)[18], "ms")


def export(client: httpx.Client, platform: Platform, expected: int, timeout: float) -> None:
    before = platform.rss_kib()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], platform.rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = size = 0
    started = time.perf_counter()
    tail = b""
    try:
        with client.stream("GET", "/console/records.csv", timeout=timeout) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_bytes():
                size += len(chunk)
                # A row ends in CRLF; one cut between two chunks counts too.
                rows += chunk.count(b"\r\n") + (tail[-1:] == b"\r" and chunk[:1] == b"\n")
                tail = (tail + chunk)[-4096:]
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"export over {timeout:.0f} s; {rows} rows so far")
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    last = list(csv.reader(io.StringIO(tail.decode("utf-8", "replace"))))[-1]
    rows -= 1  # the header
    if rows != expected:
        note(f"# export gave {rows} rows, {expected} expected (a text may hold a line end)")
    note(f"# last row of the export: {last[:2]}")
    figure("export_rows", rows, "rows")
    figure("export_s", elapsed, "s")
    figure("export_rows_per_s", rows / elapsed, "rows/s")
    figure("export_mb", size / 1e6, "MB")
    figure("export_rss_before", before / 1024, "MiB")
    figure("export_rss_peak", peak[0] / 1024, "MiB")
    figure("export_rss_growth", (peak[0] - before) / 1024, "MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per page measured")
    parser.add_argument("--export-timeout", type=float, default=600.0)
    parser.add_argument("--hongyan", default="")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    for line in machine():
        print(line, flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="hongyan-bench-console-"))
    platform = Platform(args.hongyan or _default_hongyan(), workdir)
    try:
        platform.cli("account", "create", UID, "--password", PASSWORD, "--balance", "0")
        started = time.perf_counter()
        numbers, deep_ids = fill(platform.var / "hongyan.db", args.messages)
        figure("fill_s", time.perf_counter() - started, "s")
        figure("messages", args.messages, "messages")
        platform.start()
        with httpx.Client(base_url=platform.url, timeout=60) as client:
            sign_in(client)
            rng = random.Random(7)
            timed(client, "records_first", ["/console/records"], args.requests)
            some = [f"/console/records?number={rng.choice(numbers)}" for _ in range(50)]
            timed(client, "records_number", some, args.requests)
            timed(client, "records_failed", ["/console/records?status=failed"], args.requests)
            deep = [f"/console/records?before={i}" for i in deep_ids]
            timed(client, "records_deep", deep, args.requests)
            timed(client, "overview", ["/console/"], args.requests)
            export(client, platform, args.messages, args.export_timeout)
    finally:
        platform.finish(args.keep)


if __name__ == "__main__":
    main()
