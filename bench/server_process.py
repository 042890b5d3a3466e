"""The server under test: `hongyan serve` in a temporary directory, and its CPU.

`Server` creates the bench account with the `hongyan` CLI, starts the server
on a free ephemeral port, waits for /healthz, and afterwards reads the SQLite
file back. With `--writer-stats` a sitecustomize hook put on the server's
PYTHONPATH reports GroupCommitWriter's counters to files, without touching the
platform's code. A `Snapshot` holds the CPU seconds of the server's processes
and of the whole machine (/proc) at one instant; `wait_for_quiet` measures how
busy the machine is before anything starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mt_api import BALANCE, HOST, PASSWORD, UID
from report import machine, note

# Ports a developer may have something on; the kernel's ephemeral range avoids them anyway.
AVOID_PORTS = {3000, 5000, 5432, 6379, 8000, 8008, 8080, 8443, 8888, 9000, 9090, 27017}


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port > 10_000 and port not in AVOID_PORTS:
            return int(port)
    raise RuntimeError("no free ephemeral port found")


SITECUSTOMIZE = '''
"""Bench hook: report GroupCommitWriter's counters to a file, every 50 ms."""
import json, os, threading, time

def _install():
    from hongyan.store import writer as w

    cls = w.GroupCommitWriter
    instances = []
    hist = [0] * 12  # batch sizes by power of two: 1, 2-3, 4-7, ... 1024+
    busy = [0.0]
    depth = [0]  # _commit calls itself to retry items alone: time the outer call only
    init, commit = cls.__init__, getattr(cls, "_commit", None)

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        instances.append(self)

    async def _commit(self, batch, *args, **kwargs):
        depth[0] += 1
        started = time.perf_counter()
        try:
            return await commit(self, batch, *args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                busy[0] += time.perf_counter() - started
                hist[min(len(batch).bit_length() - 1, 11)] += 1

    cls.__init__ = __init__
    if commit is not None:
        cls._commit = _commit
    path = os.path.join(os.environ["HONGYAN_BENCH_STATS_DIR"], f"writer-{os.getpid()}.json")

    def dump():
        while True:
            time.sleep(0.05)
            data = {
                "batches": sum(i.batches for i in instances),
                "items": sum(i.items for i in instances),
                "hist": list(hist),
                "busy_s": busy[0],
                "timed": commit is not None,
            }
            with open(path + ".tmp", "w") as f:
                json.dump(data, f)
            os.replace(path + ".tmp", path)

    threading.Thread(target=dump, name="bench-writer-stats", daemon=True).start()

if os.environ.get("HONGYAN_BENCH_STATS_DIR"):
    try:
        _install()
    except Exception as exc:  # never stop the server for the bench's sake
        print("bench writer stats unavailable:", exc, flush=True)
'''


@dataclass
class WriterStats:
    batches: int = 0
    items: int = 0
    hist: list[int] = field(default_factory=lambda: [0] * 12)
    busy_s: float = 0.0

    def __sub__(self, other: WriterStats) -> WriterStats:
        return WriterStats(
            self.batches - other.batches,
            self.items - other.items,
            [a - b for a, b in zip(self.hist, other.hist, strict=True)],
            self.busy_s - other.busy_s,
        )


@dataclass
class Snapshot:
    server_cpu: float  # seconds of the server's processes
    busy: float  # seconds of all CPUs busy, machine-wide
    steal: float  # seconds stolen by the hypervisor, machine-wide
    writer: WriterStats | None
    at: float = field(default_factory=time.perf_counter)


def system_cpu() -> tuple[float, float]:
    """Machine-wide (busy, steal) CPU seconds from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / tick, steal / tick


def wait_for_quiet(seconds: float = 1.0) -> float:
    """Busy CPUs (in CPUs) over a short sample before the server starts."""
    busy, _ = system_cpu()
    time.sleep(seconds)
    return (system_cpu()[0] - busy) / seconds


class Server:
    """`hongyan serve` in a temporary directory of its own."""

    def __init__(self, args: argparse.Namespace, workers: int) -> None:
        self.args = args
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="hongyan-bench-", dir=args.dir))
        self.var = self.dir / "var"
        self.port = args.port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None  # with --roles split
        self.log_path = self.dir / "server.log"
        self.stats_dir: Path | None = None
        self.env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env.update(
            {
                "HONGYAN_VAR_DIR": str(self.var),
                "HONGYAN_ACCESS_LOG": "true"
                if getattr(args, "access_log", "off") == "on"
                else "false",
                "HONGYAN_RUN_DISPATCHER": "false"
                if getattr(args, "delivery", "on") == "off"
                else "true",
                "HONGYAN_LOG_LEVEL": "INFO"
                if getattr(args, "access_log", "off") == "on"
                else "WARNING",
            }
        )
        self.hongyan = args.hongyan or _default_hongyan()

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cli(self, *argv: str) -> str:
        done = subprocess.run(
            [self.hongyan, *argv],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hongyan {' '.join(argv)} failed: {done.stderr or done.stdout}")
        return done.stdout.strip()

    def start(self) -> None:
        note(f"# server dir {self.dir}, port {self.port}, workers {self.workers}")
        note(self.cli("account", "create", UID, "--password", PASSWORD, "--balance", str(BALANCE)))
        note(self.cli("account", "limits", UID, "--rate", "off", "--per-number", "off"))
        env = dict(self.env)
        if self.args.writer_stats:
            site = self.dir / "bench-site"
            site.mkdir()
            (site / "sitecustomize.py").write_text(SITECUSTOMIZE.lstrip())
            self.stats_dir = self.dir / "writer-stats"
            self.stats_dir.mkdir()
            env["HONGYAN_BENCH_STATS_DIR"] = str(self.stats_dir)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        argv = [self.hongyan, "serve", "--host", HOST, "--port", str(self.port)]
        argv += ["--workers", str(self.workers)]
        roles = getattr(self.args, "roles", "default")
        if roles == "all":
            argv += ["--role", "all"]
        elif roles == "split":
            # The API here, delivery in a worker process of its own beside it.
            argv += ["--role", "api"]
            worker = [self.hongyan, "serve", "--role", "worker"]
            note("# " + " ".join(worker))
            with open(self.dir / "worker.log", "wb") as log:
                self.worker = subprocess.Popen(
                    worker, cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT
                )
        note("# " + " ".join(argv))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    started = len(self.pids()) >= (self.workers + 1 if self.workers > 1 else 1)
                    if answer.status == 200 and started:
                        if self.workers > 1:
                            time.sleep(1.0)  # let every worker finish its start-up
                        return
            except OSError:  # urllib's errors included
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The server process and all its descendants."""
        if self.proc is None:
            return []
        found, todo = [], [self.proc.pid] + ([self.worker.pid] if self.worker else [])
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in os.listdir(f"/proc/{pid}/task"):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                    todo.extend(int(c) for c in children)
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes (live ones) so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def snapshot(self) -> Snapshot:
        busy, steal = system_cpu()
        return Snapshot(self.cpu_seconds(), busy, steal, self.writer_stats())

    def writer_stats(self) -> WriterStats | None:
        if self.stats_dir is None:
            return None
        total = WriterStats()
        for path in self.stats_dir.glob("writer-*.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                total.batches += data["batches"]
                total.items += data["items"]
                total.busy_s += data["busy_s"]
                total.hist = [a + b for a, b in zip(total.hist, data["hist"], strict=True)]
        return total

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(timeout=10)
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            note("# server did not stop within 30s of SIGTERM; killing it")
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.returncode not in (0, -signal.SIGTERM):
            note(f"# server exited with {self.proc.returncode}:\n{self.log_tail()}")

    def stored_messages(self) -> tuple[int, int] | None:
        """(message rows, parts charged to the bench account) from the SQLite file."""
        if os.environ.get("HONGYAN_DATABASE_URL"):
            return None
        with contextlib.closing(sqlite3.connect(self.var / "hongyan.db")) as db:
            (rows,) = db.execute("SELECT count(*) FROM messages").fetchone()
            (sent,) = db.execute("SELECT sent_total FROM accounts WHERE uid = ?", (UID,)).fetchone()
        return int(rows), int(sent)

    def delivery_counts(self) -> tuple[int, int, int, int]:
        """(messages, final ones, ones with a report, ones with more than one report)."""
        with contextlib.closing(sqlite3.connect(self.var / "hongyan.db", timeout=30)) as db:
            (messages,) = db.execute("SELECT count(*) FROM messages").fetchone()
            (final,) = db.execute(
                "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')"
            ).fetchone()
            (reported, doubled) = db.execute(
                "SELECT count(*), coalesce(sum(n > 1), 0) FROM"
                " (SELECT count(*) AS n FROM reports GROUP BY message_id)"
            ).fetchone()
        return int(messages), int(final), int(reported), int(doubled)

    def cleanup(self) -> None:
        if self.args.keep:
            note(f"# kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def _default_hongyan() -> str:
    beside = Path(sys.executable).parent / "hongyan"
    if beside.exists():
        return str(beside)
    found = shutil.which("hongyan")
    if found is None:
        raise SystemExit("cannot find the hongyan command; give --hongyan PATH")
    return found


def start_quietly(wait_idle: float) -> float:
    """Print the machine and inherited settings, wait up to `wait_idle` s for an idle
    machine; the share of a CPU others still use (figures are noisy above 0.10)."""
    for line in machine():
        print(line, flush=True)
    inherited = sorted(k for k in os.environ if k.startswith("HONGYAN_"))
    if inherited:
        print(f"# inherited settings: {', '.join(inherited)}", flush=True)
    give_up = time.monotonic() + wait_idle
    busy = wait_for_quiet()
    while busy > 0.10 and time.monotonic() < give_up:
        note(f"# machine busy ({100 * busy:.0f}% of a CPU): waiting for it to be idle")
        time.sleep(4)
        busy = wait_for_quiet()
    print(f"# machine busy before start: {100 * busy:.0f}% of a CPU", flush=True)
    return busy
