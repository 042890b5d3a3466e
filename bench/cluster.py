"""End to end through separate api and worker processes, on PostgreSQL or SQLite.

    .venv/bin/python bench/cluster.py --database postgresql --workers 2 [--messages 100000]

One `hongyan serve --role api` and `--workers` `hongyan serve --role worker`
processes on one database, as a cluster runs them (README, "A cluster on
PostgreSQL"), with default settings (access log on) and two simulated
channels answering at once: `sim` takes China Mobile numbers, `sim2` the
rest, and the numbers alternate, so that two workers hold a channel each
(one worker holds both). POSTs of 2,000 numbers (two at a time) go to the
API node; the figure is messages over the time from the first POST until the
last message is final, read from the database.

PostgreSQL: the database named by `--pg-url` (default: hongyan_bench on
127.0.0.1:5432) is dropped and created anew. Figures to stdout, one a line;
every phase is bounded by `--timeout`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from pgdb import fresh

UID, PASSWORD = "bench", "bench-password"
PWD = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
POST_NUMBERS = 2000
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/hongyan_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hongyan() -> list[str]:
    return [sys.executable, "-m", "hongyan"]


def scalar(url: str, directory: Path, query: str) -> int:
    """One number read from the cluster's database."""
    if url.startswith("sqlite"):
        with sqlite3.connect(directory / "var" / "hongyan.db", timeout=30) as db:
            return int(db.execute(query).fetchone()[0])

    async def read() -> int:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            return int(await conn.fetchval(query))
        finally:
            await conn.close()

    return asyncio.run(read())


def final(url: str, directory: Path) -> int:
    """Messages final."""
    return scalar(
        url, directory, "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')"
    )


def mobiles(post: int) -> list[str]:
    # Alternating China Mobile (139) and China Unicom (130) numbers.
    return [f"{'139' if i % 2 else '130'}{post:04d}{i:04d}" for i in range(POST_NUMBERS)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--pg-url", default=os.environ.get("HONGYAN_BENCH_PG_URL", PG_URL))
    p.add_argument("--workers", type=int, default=1, help="worker processes (nodes)")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a phase, at most")
    args = p.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="hongyan-cluster-bench-"))
    if args.database == "postgresql":
        asyncio.run(fresh(args.pg_url.replace("+asyncpg", "")))
        url = args.pg_url
    else:
        url = f"sqlite+aiosqlite:///{directory}/var/hongyan.db"
    (directory / "hongyan.toml").write_text(
        f'database_url = "{url}"\nfallback_channel = "sim2"\n'
        "[simulator]\ndelay_min_s = 0\ndelay_max_s = 0\nfailure_ratio = 0\n"
        '[[channels]]\nname = "sim2"\n'
        '[[routes]]\nchannel = "simulator"\ncarriers = ["china_mobile"]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}

    def cli(*argv: str) -> None:
        subprocess.run([*hongyan(), *argv], cwd=directory, env=env, check=True, capture_output=True)

    cli("migrate")
    cli("account", "create", UID, "--password", PASSWORD, "--balance", str(10**12))
    cli("account", "limits", UID, "--rate", "off", "--per-number", "off")

    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    logs = directory / "logs"
    logs.mkdir()

    def start(name: str, *argv: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*hongyan(), "serve", *argv], cwd=directory, env=env, stdout=log, stderr=log
                )
            )

    try:
        start("api", "--role", "api", "--port", str(port))
        for n in range(args.workers):
            start(f"worker{n}", "--role", "worker")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the api node did not start")
            time.sleep(0.1)
        # The channels shared out: a worker each (a second takes its share
        # once the first gives one back, within a few seconds).
        deadline = time.monotonic() + 60
        while distinct_owners(url, directory) < min(args.workers, 2):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not share the channels")
            time.sleep(0.5)
        posts = args.messages // POST_NUMBERS
        started = time.monotonic()
        asyncio.run(post_all(base, posts))
        accepted_s = time.monotonic() - started
        deadline = started + args.timeout
        total = posts * POST_NUMBERS
        while final(url, directory) < total:
            if time.monotonic() > deadline:
                print(f"timed out: {final(url, directory)} of {total} final", file=sys.stderr)
                return 1
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        print(f"database {args.database}")
        print(f"workers {args.workers}")
        print(f"messages {total}")
        print(f"accept_msgs_per_s {total / accepted_s:.0f}")
        print(f"e2e_msgs_per_s {total / elapsed:.0f}")
        return 0
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def distinct_owners(url: str, directory: Path) -> int:
    """Worker nodes holding a channel's lease now."""
    now = time.time_ns() // 1_000_000
    query = f"SELECT count(DISTINCT owner) FROM channel_leases WHERE lease_until >= {now}"
    return scalar(url, directory, query)


async def post_all(base: str, posts: int) -> None:
    queue = list(range(posts))
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def poster() -> None:
            while queue:
                post = queue.pop(0)
                form = {
                    "uid": UID,
                    "pwd": PWD,
                    "content": "bench",
                    "mobile": ",".join(mobiles(post)),
                }
                answer = await client.post("/mt/", data=form)
                if not answer.text.startswith("sms&stat=100"):
                    raise RuntimeError(f"POST refused: {answer.text[:200]}")

        await asyncio.gather(poster(), poster())


if __name__ == "__main__":
    raise SystemExit(main())
