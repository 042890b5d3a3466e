"""Latency of normal requests while hostile clients hold the front door (issue 11).

    .venv/bin/python bench/hostile.py [--slow 500] [--oversized 4] [--duration 20]

It starts `hongyan serve` (default settings, one worker) with the bench
account, and measures a normal client (one keep-alive connection, one request
at a time, `--rate` a second: a single-number GET /mt/, then a GET /mm/, in
turn) twice:

  * `quiet_*`: alone;
  * `hostile_*`: while another process (bench/hostile_clients.py) holds
    `--slow` slow clients connected, spread over 16 loopback addresses (a
    third sending a request head one line a second, a third sending a body
    of 150 KB at 500 bytes a second, a third idle; each reconnects when the
    server cuts it off), and `--oversized` clients that post, again and
    again, a 3.96 MB `%XX` body with a wrong password (the probe of the
    issue: ~0.4 s of event loop each before the front door had bounds).

Every load is bounded in requests and in seconds, and goes to 127.0.0.1 only.
Figures go to stdout, one a line (`hostile_mt_p99_ms 3.2`); notes to stderr.
The target: a normal request's p99 under 10 ms while the hostile clients are
connected. The exit status is 1 when a normal request failed or the target
was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mt_api import GET_PREFIX, HOST, OK_PREFIX, Mobiles
from profiling import finish_profile, start_profile
from report import Figures, note
from server_process import Server, start_quietly, system_cpu

TARGET_P99_MS = 10.0
CLIENTS = Path(__file__).with_name("hostile_clients.py")


# -- the normal client ------------------------------------------------------------------


@dataclass
class Latencies:
    mt: list[float] = field(default_factory=list)
    mm: list[float] = field(default_factory=list)
    errors: int = 0


def measure(
    port: int, mobiles: Mobiles, requests: int, seconds: float, interval: float
) -> Latencies:
    """Alternate GET /mt/ (one fresh number) and GET /mm/ on one keep-alive connection,
    one every `interval` seconds (a client at a steady pace, not one that saturates
    the server by itself). A latency counts from when the request was due, not from
    when it could be sent: a stall of the server delays every request due during it
    (no coordinated omission, as wrk2 measures)."""
    mt_head = b"GET " + GET_PREFIX
    pwd_query = GET_PREFIX.split(b"?", 1)[1].split(b"&content=")[0]
    mm = b"GET /mm/?%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (pwd_query, HOST.encode())
    out = Latencies()
    sock = _connect(port)
    start = time.monotonic()
    deadline = start + seconds
    for i in range(requests):
        now = time.monotonic()
        if now > deadline:
            break
        due = start + i * interval
        time.sleep(max(0.0, due - now))  # the client's pace
        is_mt = i % 2 == 0
        request = (
            b"%s%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (mt_head, mobiles.take(1), HOST.encode())
            if is_mt
            else mm
        )
        try:
            sock.sendall(request)
            body = _read_answer(sock)
        except OSError:
            out.errors += 1
            sock.close()
            sock = _connect(port)
            continue
        elapsed = time.monotonic() - due
        if not body.startswith(OK_PREFIX):
            out.errors += 1
        (out.mt if is_mt else out.mm).append(elapsed)
    sock.close()
    return out


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if len(rest) >= length:
                return rest[:length]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk


def percentile_ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(figures: Figures, phase: str, got: Latencies) -> None:
    for name, values in (("mt", got.mt), ("mm", got.mm)):
        figures.add(f"{phase}_{name}_requests", len(values))
        figures.add(f"{phase}_{name}_p50_ms", percentile_ms(values, 0.50))
        figures.add(f"{phase}_{name}_p99_ms", percentile_ms(values, 0.99))
        figures.add(f"{phase}_{name}_max_ms", max(values) * 1000 if values else float("nan"))
    figures.add(f"{phase}_errors", got.errors)


class Attackers:
    """The hostile clients' process, and what it reports."""

    def __init__(self, port: int, args: argparse.Namespace) -> None:
        argv = [sys.executable, str(CLIENTS), "--port", str(port)]
        argv += ["--slow", str(args.slow), "--oversized", str(args.oversized)]
        argv += ["--duration", str(args.duration + 60)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.connected: list[int] = []
        self.final = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("connected "):
                self.connected.append(int(line.split()[1]))
            elif line.startswith("done "):
                self.final = line.strip()

    def wait_connected(self, count: int, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected and self.connected[-1] >= count:
                return True
            time.sleep(0.2)
        return False

    def cpu_seconds(self) -> float:
        """User + system CPU of the hostile clients' process so far."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return 0.0

    def stop(self) -> dict[str, int]:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        return {k: int(v) for k, v in (f.split("=") for f in self.final.split()[1:])}


def server_rss_mb(server: Server) -> float:
    total = 0
    for pid in server.pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--slow", type=int, default=500, help="slow clients held connected")
    p.add_argument("--oversized", type=int, default=4, help="clients posting 3.96 MB bodies")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per phase, at most")
    p.add_argument(
        "--requests", type=int, default=20_000, help="normal requests per phase, at most"
    )
    p.add_argument("--rate", type=float, default=100.0, help="normal requests a second")
    p.add_argument(
        "--wait-idle", type=float, default=0.0, help="wait up to S s for an idle machine"
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free ephemeral one)")
    p.add_argument("--dir", help="parent of the temporary server directory")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of the hostile phase, here")
    p.add_argument("--profile-mode", choices=("gil", "cpu"), default="gil")
    p.add_argument("--profile-top", type=int, default=25, help="functions listed from a profile")
    args = p.parse_args()
    args.writer_stats = False
    start_quietly(args.wait_idle)
    server = Server(args, 1)
    figures = Figures("")
    mobiles = Mobiles()
    ok = True
    try:
        server.start()
        pace = 1 / args.rate
        measure(server.port, mobiles, 500, 2.0, pace)  # warm-up
        cpu, busy = server.cpu_seconds(), system_cpu()[0]
        started = time.perf_counter()
        report(figures, "quiet", measure(server.port, mobiles, args.requests, args.duration, pace))
        seconds = time.perf_counter() - started
        used = server.cpu_seconds() - cpu
        figures.add("quiet_server_cpu_pct", 100 * used / seconds)
        # Everything else on the machine (this client included): noise when high.
        figures.add(
            "quiet_other_cpu_pct", max(0.0, 100 * (system_cpu()[0] - busy - used) / seconds)
        )
        figures.add("quiet_server_rss_mb", server_rss_mb(server))
        attackers = Attackers(server.port, args)
        try:
            if not attackers.wait_connected(int(args.slow * 0.95)):
                note(f"# only {attackers.connected[-1:]} hostile clients connected")
                ok = False
            profiler = None
            if args.profile:
                profiler = start_profile(server, args.profile, args.duration, args.profile_mode)
            cpu, attackers_cpu = server.cpu_seconds(), attackers.cpu_seconds()
            busy = system_cpu()[0]
            started = time.perf_counter()
            got = measure(server.port, mobiles, args.requests, args.duration, pace)
            seconds = time.perf_counter() - started
            if profiler is not None:
                finish_profile(
                    profiler, args.profile, args.duration, args.profile_mode, args.profile_top
                )
            held = attackers.connected[-int(seconds * 2) :] or [0]
            figures.add("hostile_slow_connected_min", min(held))
            figures.add("hostile_slow_connected_mean", sum(held) / len(held))
            report(figures, "hostile", got)
            used = server.cpu_seconds() - cpu
            figures.add("hostile_server_cpu_pct", 100 * used / seconds)
            hostile_used = attackers.cpu_seconds() - attackers_cpu
            figures.add("hostile_attackers_cpu_pct", 100 * hostile_used / seconds)
            other = system_cpu()[0] - busy - used - hostile_used
            figures.add("hostile_other_cpu_pct", max(0.0, 100 * other / seconds))
            figures.add("hostile_server_rss_mb", server_rss_mb(server))
        finally:
            stats = attackers.stop()
        for name in ("oversized_answered", "oversized_lost", "cut_off", "refused"):
            figures.add(f"hostile_{name}", stats.get(name, -1))
        after = measure(server.port, mobiles, 200, 5.0, pace)
        figures.add("after_errors", after.errors)
        ok = ok and got.errors == 0 and after.errors == 0 and bool(got.mt)
        for name in ("mt", "mm"):
            p99 = figures.values[f"hostile_{name}_p99_ms"]
            met = isinstance(p99, float) and p99 < TARGET_P99_MS
            verdict = "met" if met else "NOT met"
            note(f"# hostile_{name}_p99_ms {p99} target < {TARGET_P99_MS}: {verdict}")
            ok = ok and met
    finally:
        server.stop()
        server.cleanup()
    figures.add("result", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
