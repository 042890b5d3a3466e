"""Acceptance benchmark of the customer API: /mt/ sends, durable, over loopback.

    .venv/bin/python bench/api_accept.py [--workers 1 2] [--duration 10] [--requests 200000]

For each worker count it makes a temporary directory, creates a bench account
there (huge balance, request rate and per-number limits off) with the
`hongyan` CLI, starts `hongyan serve` on 127.0.0.1 and a free ephemeral port,
and waits for /healthz. This process (never the server's) then drives:

  * single-number GET /mt/ at concurrency 1, 16 and 64 (closed loop, one
    keep-alive connection per client, distinct mobile numbers 139xxxxxxxx);
  * 2000-number POST /mt/ (form body) at a small concurrency.

Every load phase is bounded both in requests and in seconds, whichever ends
first, and follows a short warm-up on the same connections. Every answer must
be HTTP 200 `sms&stat=100&...`; anything else is counted and printed. After
the server stops, the SQLite file must hold exactly one message row per
number that was answered 100 (every 100 was durable).

The default load generator is an asyncio client (uvloop when installed) over
raw sockets: request bytes built by hand, only the status line, Content-Length
and the start of the body looked at. `--driver wrk` uses wrk for the GET
phases when it is installed (POSTs always use the Python client).

Figures go to stdout, one per line (`mt_get_c64_rps 5321`); notes and
progress go to stderr. Beside throughput and latency each phase reports the
CPU used by the server, by the client, and by anything else on the machine
(`_other_cpu_pct`: on a 2-core box another busy process halves the figures;
`--wait-idle S` waits for the machine to be idle before starting). The exit
status is 1 when any answer was not 100 or the database check failed.

`--writer-stats` adds the group-commit batch sizes (GroupCommitWriter's own
counters, read through a sitecustomize hook put on the server's PYTHONPATH,
without touching the platform's code). `--profile FILE` samples the server
with py-spy (`.venv/bin/pip install py-spy`) during the highest-concurrency
GET phase, or the POSTs with `--profile-phase post`, and prints the top
functions; by default only samples where a thread holds the GIL are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
UID = "bench"
PASSWORD = "bench-password"
BALANCE = 10**15
# 发送测试 in GBK, as in the spec's example.
CONTENT = b"%B7%A2%CB%CD%B2%E2%CA%D4"
OK_PREFIX = b"sms&stat=100&"
MOBILE_BASE = 13900000000
MOBILE_SPAN = 10**8  # 139 + 8 digits
# Ports a developer may have something on; the kernel's ephemeral range avoids them anyway.
AVOID_PORTS = {3000, 5000, 5432, 6379, 8000, 8008, 8080, 8443, 8888, 9000, 9090, 27017}

TARGETS = {
    "mt_get_c64_rps": (">=", 6000),
    "mt_get_c64_p99_ms": ("<", 30),
    "mt_post2000_msgs_per_s": (">=", 100_000),
}


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- numbers ------------------------------------------------------------------


class Mobiles:
    """Distinct valid mobile numbers: 139 followed by an 8-digit counter."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> int:
        """The first of `count` fresh consecutive numbers (wrapping after 10^8)."""
        if self.next + count > MOBILE_SPAN:
            self.next = 0
        first = MOBILE_BASE + self.next
        self.next += count
        return first


# -- the server -----------------------------------------------------------------


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
        self.log_path = self.dir / "server.log"
        self.stats_dir: Path | None = None
        self.env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env.update(
            {
                "HONGYAN_VAR_DIR": str(self.var),
                "HONGYAN_ACCESS_LOG": "false",
                "HONGYAN_LOG_LEVEL": "WARNING",
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
            except (OSError, urllib.error.URLError):
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
        found, todo = [], [self.proc.pid]
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


# -- the Python load generator ------------------------------------------------


@dataclass
class Result:
    """One measured load phase."""

    requests: int = 0  # answered, measured
    ok: int = 0
    messages: int = 0  # numbers answered 100
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, sorted at the end
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    writer: WriterStats | None = None
    known_ms: dict[float, float] = field(default_factory=dict)  # percentiles a driver reported

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile_ms(self, q: float) -> float:
        if q in self.known_ms:
            return self.known_ms[q]
        if not self.latencies:
            return float("nan")
        rank = max(1, math.ceil(q * len(self.latencies)))
        return self.latencies[rank - 1] * 1000


class Phase:
    """Shared state of one closed-loop run over a set of connections."""

    def __init__(
        self,
        make_request: Callable[[], bytes],
        numbers_per_request: int,
        max_requests: int,
        seconds: float,
    ) -> None:
        self.make_request = make_request
        self.numbers = numbers_per_request
        self.max_requests = max_requests
        self.seconds = seconds
        self.issued = 0
        self.result = Result()
        self.active = 0
        self.started = 0.0
        self.deadline = 0.0
        self.last_done = 0.0
        self.finished: asyncio.Future[None] | None = None

    def begin(self, conns: list[Conn]) -> asyncio.Future[None]:
        self.finished = asyncio.get_running_loop().create_future()
        self.started = self.last_done = time.perf_counter()
        self.deadline = self.started + self.seconds
        ready = [conn for conn in conns if conn.alive]
        self.active = len(ready)  # before any starts: one may go idle at once
        for conn in ready:
            conn.start(self)
        if self.active == 0 and not self.finished.done():
            self.finished.set_result(None)
        return self.finished

    def next_request(self) -> bytes | None:
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return None
        self.issued += 1
        return self.make_request()

    def answered(self, status: int, body: bytes, latency: float) -> None:
        r = self.result
        r.requests += 1
        r.latencies.append(latency)
        if status == 200 and body.startswith(OK_PREFIX):
            r.ok += 1
            r.messages += self.numbers
        else:
            r.errors[f"HTTP {status} {body[:80].decode('gbk', 'replace')!r}"] += 1

    def failed(self, reason: str) -> None:
        self.result.errors[reason] += 1

    def conn_idle(self) -> None:
        self.active -= 1
        self.last_done = time.perf_counter()
        if self.active == 0 and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.phase: Phase | None = None
        self.sent_at = 0.0
        self.alive = False
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.alive = True

    def start(self, phase: Phase) -> None:
        self.phase = phase
        self._send_next()

    def _send_next(self) -> None:
        phase = self.phase
        assert phase is not None and self.transport is not None
        request = phase.next_request() if self.alive else None
        if request is None:
            self.phase = None
            phase.conn_idle()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower() + b"\r\n"
        at = head.find(b"\r\ncontent-length:")
        try:
            length = int(head[at + 17 : head.find(b"\r\n", at + 17)]) if at >= 0 else 0
        except ValueError:
            self._broken(f"unreadable answer head {head[:200]!r}")
            return
        if len(buffer) < end + 4 + length:
            return
        latency = time.perf_counter() - self.sent_at
        body = bytes(buffer[end + 4 : end + 4 + length])
        del buffer[: end + 4 + length]
        if b"\r\nconnection: close" in head:
            self.close_after = True
        phase = self.phase
        if phase is None:
            return  # an answer nobody waits for (after a timeout)
        try:
            status = int(head[9:12])
        except ValueError:
            status = 0
        phase.answered(status, body, latency)
        if self.close_after:
            phase.failed("server closed the connection")
            self.alive = False
            assert self.transport is not None
            self.transport.close()
        self._send_next()

    def _broken(self, reason: str) -> None:
        """An answer this client cannot read: counted, and the connection dropped."""
        self.alive = False
        phase, self.phase = self.phase, None
        if phase is not None:
            phase.failed(reason)
            phase.conn_idle()
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        was_alive, self.alive = self.alive, False
        phase, self.phase = self.phase, None
        if phase is not None:
            phase.failed(f"connection lost ({exc or 'closed by the server'})")
            phase.conn_idle()
        elif was_alive and exc is not None:
            note(f"# idle connection lost: {exc}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_conns(port: int, count: int) -> list[Conn]:
    loop = asyncio.get_running_loop()
    pairs = await asyncio.gather(*(loop.create_connection(Conn, HOST, port) for _ in range(count)))
    return [conn for _, conn in pairs]


async def drive(
    conns: list[Conn],
    make_request: Callable[[], bytes],
    numbers: int,
    max_requests: int,
    seconds: float,
) -> Result:
    """One bounded closed-loop run; conns left open for the next run."""
    phase = Phase(make_request, numbers, max_requests, seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    finished = phase.begin(conns)
    try:
        await asyncio.wait_for(asyncio.shield(finished), timeout=seconds + 60)
    except TimeoutError:
        phase.failed(f"timed out: {phase.active} requests unanswered after {seconds + 60:.0f}s")
        for conn in conns:
            if conn.phase is phase:
                conn.phase = None
                conn.alive = False
                conn.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    r = phase.result
    r.elapsed = phase.last_done - phase.started
    r.client_cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    r.latencies.sort()
    return r


def get_request(port: int, mobiles: Mobiles) -> Callable[[], bytes]:
    pwd = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
    head = f"GET /mt/?uid={UID}&pwd={pwd}&content=".encode() + CONTENT + b"&mobile="
    tail = f" HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()

    def make() -> bytes:
        return b"%s%d%s" % (head, mobiles.take(1), tail)

    return make


def post_request(port: int, mobiles: Mobiles, count: int) -> Callable[[], bytes]:
    pwd = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
    form = f"uid={UID}&pwd={pwd}&content=".encode() + CONTENT + b"&mobile="
    head = (
        f"POST /mt/ HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: "
    ).encode()

    def make() -> bytes:
        first = mobiles.take(count)
        body = form + ",".join(map(str, range(first, first + count))).encode()
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)

    return make


# -- the wrk driver -----------------------------------------------------------

WRK_SCRIPT = r"""
local prefix = "__PREFIX__"
local threads = {}
local counter, limit, answered = 0, 0, 0
-- globals, so that done() can read them from each thread with thread:get()
ok, bad, sample = 0, 0, ""

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local stride = tonumber(args[2])
  counter = tonumber(args[1]) + id * stride
  limit = stride
end

function request()
  counter = counter + 1
  return wrk.format("GET", prefix .. counter)
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 and string.sub(body, 1, 13) == "sms&stat=100&" then
    ok = ok + 1
  else
    bad = bad + 1
    if bad <= 5 then sample = sample .. status .. " " .. string.sub(body, 1, 60) .. " | " end
  end
  if answered >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local total_ok, total_bad, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_bad = total_bad + (t:get("bad") or 0)
    sample = sample .. (t:get("sample") or "")
  end
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9),
    total_ok, total_bad, e.connect, e.read, e.write, e.status, e.timeout, latency.max))
  io.write("WRKSAMPLE " .. sample .. "\n")
end
"""


def wrk_run(
    server: Server,
    script: Path,
    mobiles: Mobiles,
    concurrency: int,
    max_requests: int,
    seconds: float,
) -> Result:
    threads = min(concurrency, max(1, (os.cpu_count() or 2) // 2))
    stride = max(1, max_requests // threads)
    first = mobiles.take(stride * threads + 1)
    argv = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"]
    argv += ["--timeout", "30s", "-s", str(script), server.base, "--", str(first), str(stride)]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = Result()
    r.client_cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    match = re.search(r"^WRKRESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        r.errors[f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}"] += 1
        return r
    values = [int(float(v)) for v in match.group(1).split()]
    requests, duration_us, p50_us, p99_us, p999_us, ok, bad, *errors, max_us = values
    r.requests, r.ok, r.messages = requests, ok, ok
    r.elapsed = duration_us / 1e6
    r.known_ms = {0.5: p50_us / 1000, 0.99: p99_us / 1000, 0.999: p999_us / 1000}
    r.known_ms[1.0] = max_us / 1000
    if bad:
        sample = re.search(r"^WRKSAMPLE (.*)$", done.stdout, re.MULTILINE)
        r.errors[f"not stat=100: {sample.group(1) if sample else ''}"] += bad
    for name, count in zip(("connect", "read", "write", "status", "timeout"), errors, strict=True):
        if count:
            r.errors[f"wrk {name} errors"] += count
    return r


def write_wrk_script(server: Server) -> Path:
    pwd = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
    prefix = f"/mt/?uid={UID}&pwd={pwd}&content={CONTENT.decode()}&mobile="
    path = server.dir / "bench.lua"
    path.write_text(WRK_SCRIPT.replace("__PREFIX__", prefix))
    return path


# -- profiling ----------------------------------------------------------------


PROFILE_RATE = 200  # samples a second
# Frames every stack of a thread passes through: left out of the "total" ranking.
BOILERPLATE = (
    "threading.py",
    "typer/",
    "click/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "uvicorn/_subprocess.py",
    "uvicorn/supervisors/",
    "multiprocessing/",
    "hongyan/cli.py",
    "<module>",
    "concurrent/futures/thread.py",
    "Runner.run",
)


def start_profile(
    server: Server, out: Path, seconds: float, mode: str
) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        note("# py-spy not found: install it with .venv/bin/pip install py-spy")
        return None
    assert server.proc is not None
    argv = [py_spy, "record", "--pid", str(server.proc.pid), "--duration", str(round(seconds))]
    argv += ["--rate", str(PROFILE_RATE), "--format", "raw", "--function", "--output", str(out)]
    if mode == "gil":
        argv.append("--gil")
    if server.workers > 1:
        argv.append("--subprocesses")
    note("# " + " ".join(argv))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # py-spy attaches
    return proc


def summarise_profile(path: Path, seconds: float, mode: str, top: int = 15) -> list[str]:
    """Top functions by self and by total samples, from py-spy's raw (collapsed) output.

    In `gil` mode a sample is kept only when a thread holds the GIL, so the
    shares are of the Python-level work that serialises on it, and samples per
    process over rate x seconds is how busy that process's GIL was. A self
    share of `Runner.run` is uvloop's and httptools' native code (the event
    loop's I/O and callbacks) with the GIL held.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    per_process: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # With --subprocesses a stack starts with `process PID:"command line"` frames
        # (parent, then child), and a command line may itself hold a `;`.
        pids = re.findall(r'process (\d+):"[^"]*";?', stack)
        process = f"process {pids[-1]}" if pids else "process"
        stack = re.sub(r'process \d+:"[^"]*";?', "", stack)
        frames = [_short_frame(f) for f in stack.split(";") if f and not f.startswith("thread ")]
        if not frames:
            continue
        samples += count
        per_process[process] += count
        own[frames[-1]] += count
        for frame in set(frames):
            if not any(marker in frame for marker in BOILERPLATE):
                total[frame] += count
    if not samples:
        return ["# profile: no samples"]
    possible = PROFILE_RATE * seconds
    what = "a thread held the GIL" if mode == "gil" else "a thread was not seen idle"
    lines = [f"# profile: {samples} samples where {what}"]
    for process, n in sorted(per_process.items()):
        lines.append(f"#   {process}: {n} samples = {100 * n / possible:.0f}% of {seconds:.0f}s")
    lines.append("# top functions by self time:")
    lines += [f"#   {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("# top functions by total time (self + callees; thread roots left out):")
    lines += [f"#   {100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    return lines


def _short_frame(frame: str) -> str:
    """`write (sqlalchemy/engine/base.py:1450)` from py-spy's frame with its full path."""
    match = re.fullmatch(r"(.*) \((.*)\)", frame)
    if not match:
        return frame
    func, path = match.groups()
    for marker in ("site-packages/", "/src/", "/lib/python3.11/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


# -- the benchmark ------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, workers: int, prefix: str) -> None:
        self.args = args
        self.workers = workers
        self.prefix = prefix
        self.server = Server(args, workers)
        self.mobiles = Mobiles()
        self.expected_messages = 0  # every number answered 100, warm-ups included
        self.unread_allowance = 0  # requests wrk may have left in flight
        self.errors = 0
        self.figures: list[tuple[str, float | int | str]] = []

    def figure(self, name: str, value: float | int | str) -> None:
        self.figures.append((name, value))
        if isinstance(value, float):
            text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.2f}"
        else:
            text = str(value)
        print(f"{self.prefix}{name} {text}", flush=True)

    def run(self) -> bool:
        try:
            self.server.start()
            self.figure("workers", self.workers)
            if self.args.driver == "wrk":
                self._wrk_gets()
            else:
                asyncio_run(self._python_gets())
            asyncio_run(self._posts())
        finally:
            self.server.stop()
        ok = self._check_store()
        self.figure("errors_total", self.errors)
        self.figure("result", "PASS" if ok and self.errors == 0 else "FAIL")
        self.server.cleanup()
        return ok and self.errors == 0

    # GET phases

    async def _python_gets(self) -> None:
        make = get_request(self.server.port, self.mobiles)
        for c in self.args.concurrency:
            conns = await open_conns(self.server.port, c)
            try:
                warm = await drive(conns, make, 1, self.args.warmup_requests, self.args.warmup)
                self._count(warm, warmup=True)
                await asyncio.sleep(0.15)  # answers settled: snapshot the server
                before = self._snapshot()
                profile = self._maybe_profile(c)
                result = await drive(conns, make, 1, self.args.requests, self.args.duration)
                self._finish(f"mt_get_c{c}", result, before, profile)
            finally:
                for conn in conns:
                    conn.close()
            await asyncio.sleep(0.2)

    def _wrk_gets(self) -> None:
        if shutil.which("wrk") is None:
            raise SystemExit("--driver wrk: wrk is not installed (apt-get install wrk)")
        script = write_wrk_script(self.server)
        for c in self.args.concurrency:
            warm = wrk_run(
                self.server, script, self.mobiles, c, self.args.warmup_requests, self.args.warmup
            )
            self.unread_allowance += 2 * c  # this run and the next
            self._count(warm, warmup=True)
            time.sleep(0.15)
            before = self._snapshot()
            profile = self._maybe_profile(c)
            result = wrk_run(
                self.server, script, self.mobiles, c, self.args.requests, self.args.duration
            )
            self._finish(f"mt_get_c{c}", result, before, profile)

    # POST phase

    async def _posts(self) -> None:
        n, c = self.args.post_numbers, self.args.post_concurrency
        make = post_request(self.server.port, self.mobiles, n)
        conns = await open_conns(self.server.port, c)
        try:
            warm = await drive(conns, make, n, max(c, 2 * c), self.args.warmup)
            self._count(warm, warmup=True)
            await asyncio.sleep(0.15)
            before = self._snapshot()
            profile = self._maybe_profile(None)
            result = await drive(conns, make, n, self.args.posts, self.args.duration)
            self._finish(f"mt_post{n}", result, before, profile, numbers=n)
        finally:
            for conn in conns:
                conn.close()

    # bookkeeping

    def _snapshot(self) -> Snapshot:
        busy, steal = system_cpu()
        return Snapshot(self.server.cpu_seconds(), busy, steal, self.server.writer_stats())

    def _maybe_profile(self, c: int | None) -> subprocess.Popen[bytes] | None:
        """py-spy on the server for the GET phase of the highest concurrency, or the POSTs."""
        if self.args.profile is None:
            return None
        wanted = None if self.args.profile_phase == "post" else max(self.args.concurrency)
        if c != wanted:
            return None
        return start_profile(
            self.server, self._profile_path(), self.args.duration, self.args.profile_mode
        )

    def _profile_path(self) -> Path:
        path: Path = self.args.profile
        if len(self.args.workers) > 1:
            path = path.with_name(f"{path.stem}-w{self.workers}{path.suffix}")
        return path

    def _count(self, result: Result, *, warmup: bool) -> None:
        self.expected_messages += result.messages
        if result.requests == 0:
            result.errors["no request was answered"] += 1
        if result.error_count:
            self.errors += result.error_count
            what = "warm-up" if warmup else "run"
            for reason, count in result.errors.most_common(10):
                note(f"# {what} error x{count}: {reason}")

    def _finish(
        self,
        name: str,
        r: Result,
        before: Snapshot,
        profile: subprocess.Popen[bytes] | None,
        numbers: int = 1,
    ) -> None:
        time.sleep(0.15)  # let the stats hook report the last commits
        after = self._snapshot()
        r.server_cpu = after.server_cpu - before.server_cpu
        if after.writer is not None and before.writer is not None:
            r.writer = after.writer - before.writer
        # Whatever else ran on the machine meanwhile (the whole window, sleeps included).
        window = after.at - before.at
        other = after.busy - before.busy - r.server_cpu - r.client_cpu
        self._count(r, warmup=False)
        elapsed = r.elapsed or float("nan")
        if numbers > 1:
            self.figure(f"{name}_msgs_per_s", r.messages / elapsed)
        self.figure(f"{name}_rps", r.ok / elapsed)
        self.figure(f"{name}_p50_ms", r.percentile_ms(0.50))
        self.figure(f"{name}_p99_ms", r.percentile_ms(0.99))
        self.figure(f"{name}_p999_ms", r.percentile_ms(0.999))
        self.figure(f"{name}_max_ms", r.percentile_ms(1.0))
        self.figure(f"{name}_requests", r.requests)
        self.figure(f"{name}_seconds", r.elapsed)
        self.figure(f"{name}_errors", r.error_count)
        self.figure(f"{name}_server_cpu_pct", 100 * r.server_cpu / elapsed)
        self.figure(f"{name}_client_cpu_pct", 100 * r.client_cpu / elapsed)
        self.figure(f"{name}_other_cpu_pct", max(0.0, 100 * other / window))
        self.figure(f"{name}_steal_pct", 100 * (after.steal - before.steal) / window)
        if other / window > 0.10:
            note(f"# WARNING: other processes used {100 * other / window:.0f}% of a CPU")
        if r.writer is not None and r.writer.batches:
            w = r.writer
            self.figure(f"{name}_writer_batches", w.batches)
            self.figure(f"{name}_writer_batch_mean", w.items / w.batches)
            if sum(w.hist):  # the hook could time GroupCommitWriter._commit
                self.figure(f"{name}_writer_busy_pct", 100 * w.busy_s / elapsed)
                labels = [f"{1 << i}-{(2 << i) - 1}" if i else "1" for i in range(12)]
                sizes = ", ".join(f"{k}: {n}" for k, n in zip(labels, w.hist, strict=True) if n)
                note(f"# {self.prefix}{name} writer batch sizes {{{sizes}}}")
        elif self.args.writer_stats:
            hook = [ln for ln in self.server.log_tail(200).splitlines() if "bench writer" in ln]
            note(f"# writer stats unavailable: {hook[-1] if hook else 'no report from the server'}")
        for key, (op, target) in TARGETS.items():
            figure = dict(self.figures).get(key)
            if key.startswith(name + "_") and isinstance(figure, float):
                met = figure >= target if op == ">=" else figure < target
                note(f"# {key} {figure:.1f} target {op} {target}: {'met' if met else 'NOT met'}")
        if profile is not None:
            try:
                profile.wait(timeout=60)
            except subprocess.TimeoutExpired:
                profile.terminate()
                profile.wait(timeout=10)
            path = self._profile_path()
            if path.exists():
                note(f"# profile written to {path}")
                lines = summarise_profile(
                    path, round(self.args.duration), self.args.profile_mode, self.args.profile_top
                )
                for line in lines:
                    note(line)
            else:
                stderr = profile.stderr.read().decode() if profile.stderr else ""
                note(f"# py-spy wrote no profile: {stderr.strip()}")

    def _check_store(self) -> bool:
        stored = self.server.stored_messages()
        if stored is None:
            note("# not a SQLite file of ours: database check skipped")
            return True
        rows, sent = stored
        self.figure("db_messages_expected", self.expected_messages)
        self.figure("db_messages_stored", rows)
        self.figure("db_parts_charged", sent)
        # wrk stops with requests in flight whose answers it never reads: those
        # may be stored too. The Python client reads every answer it asked for.
        slack = self.unread_allowance
        if not (self.expected_messages <= rows <= self.expected_messages + slack) or sent != rows:
            note(
                f"# DATABASE CHECK FAILED: {self.expected_messages} numbers answered 100"
                f"{f' (+ up to {slack} unread by wrk)' if slack else ''}, "
                f"{rows} message rows stored, {sent} parts charged"
            )
            return False
        return True


def asyncio_run(coro: object) -> None:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    gc.disable()  # no collector pauses inside the client's measurements
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(coro)  # type: ignore[arg-type]
    finally:
        gc.enable()
        gc.collect()


def machine() -> Iterator[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    yield f"# machine: nproc {os.cpu_count()}, {model}, Linux {platform.release()}"
    yield f"# python {platform.python_version()} ({sys.executable})"
    repo = Path(__file__).resolve().parent.parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if head:
            yield f"# hongyan at {head}{' with uncommitted changes in src/' if dirty else ''}"
    try:
        import uvloop

        yield f"# client loop: uvloop {uvloop.__version__}"
    except ImportError:
        yield "# client loop: asyncio (uvloop not installed)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="server worker counts, one run each"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load phase, at most")
    p.add_argument("--requests", type=int, default=200_000, help="GETs per phase, at most")
    p.add_argument("--posts", type=int, default=1_000, help="POSTs in the POST phase, at most")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per phase, at most")
    p.add_argument("--warmup-requests", type=int, default=2_000, help="warm-up GETs, at most")
    p.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 16, 64], help="GET concurrencies"
    )
    p.add_argument("--post-concurrency", type=int, default=2, help="concurrent POSTs")
    p.add_argument("--post-numbers", type=int, default=2000, help="numbers per POST")
    p.add_argument("--driver", choices=("python", "wrk"), default="python", help="GET load driver")
    p.add_argument("--writer-stats", action="store_true", help="report group-commit batch sizes")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of the top GET phase, here")
    p.add_argument(
        "--profile-phase",
        choices=("get", "post"),
        default="get",
        help="profile the GET phase of the highest concurrency, or the POST phase",
    )
    p.add_argument(
        "--profile-mode",
        choices=("gil", "cpu"),
        default="gil",
        help="py-spy samples: only GIL holders (gil) or every thread not seen idle (cpu)",
    )
    p.add_argument("--profile-top", type=int, default=15, help="functions listed from a profile")
    p.add_argument("--dir", help="parent of the temporary server directory (None: the system one)")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free ephemeral one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="seconds to wait, at most, for other load on the machine to stop",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    for name in ("duration", "warmup"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be positive")
    if min(args.workers) < 1 or min(args.concurrency) < 1 or args.post_concurrency < 1:
        p.error("workers and concurrencies must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for line in machine():
        print(line, flush=True)
    inherited = sorted(k for k in os.environ if k.startswith("HONGYAN_"))
    if inherited:
        print(f"# inherited settings: {', '.join(inherited)}", flush=True)
    give_up = time.monotonic() + args.wait_idle
    busy = wait_for_quiet()
    while busy > 0.10 and time.monotonic() < give_up:
        note(f"# machine busy ({100 * busy:.0f}% of a CPU): waiting for it to be idle")
        time.sleep(4)
        busy = wait_for_quiet()
    print(f"# machine busy before start: {100 * busy:.0f}% of a CPU", flush=True)
    if busy > 0.10:
        note("# WARNING: the machine is not idle; figures will be low and noisy")
    passed = True
    for workers in args.workers:
        prefix = f"w{workers}_" if len(args.workers) > 1 else ""
        bench = Bench(args, workers, prefix)
        try:
            passed = bench.run() and passed
        except KeyboardInterrupt:
            note("# interrupted")
            return 130
    if not passed:
        note("# FAIL: some answers were not stat=100, or not stored")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
