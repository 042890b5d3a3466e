"""The floor under issue 13's targets: what the serving stack costs with none of our work.

    .venv/bin/python bench/floor.py [--concurrency 1 64] [--duration 8] [--rounds 2]

hongyan answers `/mt/` through uvicorn (httptools, uvloop) and makes each
accepted message durable through one writer thread committing SQLite in
groups. Two servers stand in for it here, each served with hongyan's own
uvicorn options and request-framing protocol (`api.server.uvicorn_options`),
on one core like hongyan's API process:

  * `bare`: an ASGI callable that answers `sms&stat=100&` to every request
    and does nothing else: no parsing, no account, no database.
  * `durable`: the same, but each request waits for one row committed to an
    SQLite file in WAL mode with `synchronous=FULL` by a writer thread that
    takes whatever requests have gathered as one transaction (group commit,
    as hongyan's store does), before it answers.

The same wrk script as `bench/api_accept.py` drives both, single-number GETs
at each concurrency. Besides requests a second and latency it prints the
server's CPU time per request (`_cpu_us_per_req`, from /proc): the Python a
request costs the one core an API process has. Every figure is a line on
stdout; `hongyan` itself is measured by `bench/api_accept.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from mt_api import HOST, Mobiles
from report import Figures, note
from server_process import free_port, start_quietly
from wrk_driver import write_wrk_script, wrk_run

ANSWER = b"sms&stat=100&"
HEADERS = [(b"content-type", b"text/plain; charset=gbk"), (b"content-length", b"13")]


def bare_app():
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": ANSWER})

    return app


class GroupCommit:
    """One thread commits what has gathered as one transaction; waiters resume after it."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, path TEXT)")
        self.pending: list[tuple[str, asyncio.Future[None]]] = []
        self.ready = threading.Condition()
        self.loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def add(self, path: str) -> asyncio.Future[None]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        done = self.loop.create_future()
        with self.ready:
            self.pending.append((path, done))
            self.ready.notify()
        return done

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.pending:
                    self.ready.wait()
                batch, self.pending = self.pending, []
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT INTO m (path) VALUES (?)", [(p,) for p, _ in batch])
            self.db.execute("COMMIT")
            assert self.loop is not None
            self.loop.call_soon_threadsafe(_resolve, [f for _, f in batch])


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for f in futures:
        if not f.done():
            f.set_result(None)


def durable_app(path: Path):
    writer = GroupCommit(path)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await writer.add(scope["query_string"].decode("latin-1"))
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": ANSWER})

    return app


def serve(kind: str, port: int, directory: Path) -> None:
    import uvicorn

    from hongyan.api.server import uvicorn_options

    app = bare_app() if kind == "bare" else durable_app(directory / "floor.sqlite")
    options = uvicorn_options(HOST, port)
    options["lifespan"] = "off"
    uvicorn.run(app, **options)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the {base} server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the {base} server did not answer within {timeout:.0f} s")


def measure(kind: str, args: argparse.Namespace, mobiles: Mobiles, rounds: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="hongyan-floor-", dir=args.dir) as tmp:
        directory = Path(tmp)
        port = free_port()
        base = f"http://{HOST}:{port}"
        argv = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--dir", tmp]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_up(base, proc)
            script = write_wrk_script(directory / "mt.lua")
            for c in args.concurrency:
                wrk_run(base, script, mobiles, c, args.warmup_requests, args.warmup)
                before = cpu_seconds(proc.pid)
                result = wrk_run(base, script, mobiles, c, args.requests, args.duration)
                cpu = cpu_seconds(proc.pid) - before
                if result.errors:
                    raise RuntimeError(f"{kind} c={c}: {dict(result.errors)}")
                rounds.setdefault((kind, c), []).append(
                    (
                        result.ok / result.elapsed,
                        result.known_ms[0.5],
                        result.known_ms[0.99],
                        cpu / max(1, result.requests) * 1e6,
                    )
                )
                note(f"# {kind} c={c}: {result.ok / result.elapsed:.0f} req/s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds a phase, at most")
    parser.add_argument("--requests", type=int, default=200_000, help="GETs a phase, at most")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--warmup-requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="medians over this many")
    parser.add_argument("--dir", default=None, help="parent of the temporary directories")
    parser.add_argument("--wait-idle", type=float, default=0.0)
    parser.add_argument("--serve", choices=["bare", "durable"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, Path(args.dir))
        return
    start_quietly(args.wait_idle)
    mobiles = Mobiles()
    rounds: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    for _ in range(args.rounds):
        for kind in ("bare", "durable"):
            measure(kind, args, mobiles, rounds)
    figures = Figures("")
    for (kind, c), results in sorted(rounds.items()):
        for i, name in enumerate(("rps", "p50_ms", "p99_ms", "cpu_us_per_req")):
            values = sorted(r[i] for r in results)
            figures.add(f"{kind}_c{c}_{name}", float(values[len(values) // 2]))


if __name__ == "__main__":
    main()
