"""The operator console's live page under load: does watching slow the API?

    .venv/bin/python bench/admin_live.py [--rate 5000] [--phase 10] [--rounds 2]

Starts `hongyan serve` (defaults: the API and a delivery worker beside it; as
bench/api_accept.py, through bench/server_process.py), creates a bench
account and a support operator with the CLI, and drives paced /mt/ traffic:
2000-number POSTs at `--rate` messages a second (two streams, each a POST
every 2 × 2000 / rate seconds), and single-number GETs at `--probe` a second
as a latency probe. Phases alternate, each `--phase` seconds after a short
warm-up: without live pages, then with two "open live pages" (two threads,
each signed in as the operator, polling /admin/system/live.json every second
and /admin/channels.json every two, as the pages' scripts do), `--rounds`
times. Every phase is bounded in requests and in seconds.

Figures, one a line on stdout: per phase kind (`off`, `on`) the messages a
second accepted, POST and GET-probe p50/p99, the server's CPU; for the live
pages, their polls a second and poll p99, and the accepted-a-second figure
the pages saw (median while loaded) beside what was sent. Notes on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx

from loadgen import Result, asyncio_run, drive, open_conns
from mt_api import Mobiles, get_request, post_request
from report import Figures, note
from server_process import Server, start_quietly

OPERATOR = "bench-watcher"
OPERATOR_PASSWORD = "bench-watcher-password"
POST_NUMBERS = 2000
POST_STREAMS = 2


@dataclass
class Watched:
    """What the live pages saw during one phase."""

    polls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    accepted_now: list[int] = field(default_factory=list)  # live.json's newest second


class LivePage(threading.Thread):
    """One open system page and channels page: a signed-in operator's polls."""

    def __init__(self, base: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=base, timeout=30)
        self.stop = stop
        self.watched = Watched()
        self.lock = threading.Lock()
        self._sign_in()

    def _sign_in(self) -> None:
        self.http.get("/admin/sign-in")
        pre = self.http.cookies.get("hy_admin_pre", path="/admin") or ""
        signed = self.http.post(
            "/admin/sign-in",
            data={"name": OPERATOR, "password": OPERATOR_PASSWORD, "code": "", "csrf": pre},
        )
        if signed.status_code != 303:
            raise RuntimeError(f"operator sign-in failed: {signed.status_code}")

    def take(self) -> Watched:
        with self.lock:
            found, self.watched = self.watched, Watched()
        return found

    def _poll(self, path: str) -> dict[str, object] | None:
        started = time.perf_counter()
        try:
            answer = self.http.get(path)
            ok = answer.status_code == 200
            data = answer.json() if ok else None
        except (httpx.HTTPError, ValueError):
            ok, data = False, None
        with self.lock:
            self.watched.polls += 1
            self.watched.latencies.append(time.perf_counter() - started)
            if not ok:
                self.watched.errors += 1
        return data

    def run(self) -> None:
        tick = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            data = self._poll("/admin/system/live.json")
            if data is not None:
                now = data.get("now")
                if isinstance(now, dict):
                    with self.lock:
                        self.watched.accepted_now.append(int(now["accepted"]))
            if tick % 2 == 0:
                self._poll("/admin/channels.json")
            tick += 1
            next_at += 1.0
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        self.http.close()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server = Server(args, 1)
        self.mobiles = Mobiles()
        self.figures = Figures("")
        self.errors = 0

    def run(self) -> bool:
        try:
            self.server.start()
            self._create_operator()
            asyncio_run(self._phases())
        finally:
            self.server.stop()
            self.server.cleanup()
        self.figures.add("errors_total", self.errors)
        return self.errors == 0

    def _create_operator(self) -> None:
        s = self.server
        done = subprocess.run(
            [s.hongyan, "operator", "create", OPERATOR, "--role", "support", "--password-stdin"],
            cwd=s.dir,
            env=s.env,
            input=OPERATOR_PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"operator create failed: {done.stderr or done.stdout}")

    async def _paced(
        self, make: object, numbers: int, every_s: float, seconds: float, at_most: int
    ) -> Result:
        """One connection, one request every `every_s` (closed loop if answers are slower)."""
        total = Result()
        [conn] = await open_conns(self.server.port, 1)
        started = time.perf_counter()
        next_at = started
        try:
            while time.perf_counter() - started < seconds and total.requests < at_most:
                one = await drive([conn], make, numbers, 1, 60.0)  # type: ignore[arg-type]
                total.requests += one.requests
                total.ok += one.ok
                total.messages += one.messages
                total.errors.update(one.errors)
                total.latencies.extend(one.latencies)
                if not conn.alive:
                    total.errors["connection lost"] += 1
                    break
                next_at += every_s
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            conn.close()
        total.elapsed = time.perf_counter() - started
        total.latencies.sort()
        return total

    async def _load(self, seconds: float) -> tuple[list[Result], Result]:
        a = self.args
        post = post_request(self.server.port, self.mobiles, POST_NUMBERS)
        get = get_request(self.server.port, self.mobiles)
        every = POST_STREAMS * POST_NUMBERS / a.rate
        bound = int(seconds / every) + 2
        streams = [
            self._paced(post, POST_NUMBERS, every, seconds, bound) for _ in range(POST_STREAMS)
        ]
        probe = self._paced(get, 1, 1.0 / a.probe, seconds, int(seconds * a.probe) + 2)
        *posts, gets = await asyncio.gather(*streams, probe)
        return list(posts), gets

    async def _phases(self) -> None:
        a = self.args
        note(f"# warm-up {a.warmup:.0f} s")
        await self._load(a.warmup)
        results: dict[str, list[tuple[list[Result], Result, float, float]]] = {"off": [], "on": []}
        watched: list[Watched] = []
        for round_ in range(a.rounds):
            for kind in ("off", "on"):
                stop = threading.Event()
                pages = [LivePage(self.server.base, stop) for _ in range(2)] if kind == "on" else []
                for p in pages:
                    p.start()
                await asyncio.sleep(1.5 if pages else 0)  # the pages' first polls are in
                for p in pages:
                    p.take()
                note(f"# round {round_ + 1}: {kind} live pages, {a.phase:.0f} s")
                before = self.server.snapshot()
                posts, gets = await self._load(a.phase)
                after = self.server.snapshot()
                cpu = after.server_cpu - before.server_cpu
                results[kind].append((posts, gets, cpu, after.at - before.at))
                if pages:
                    stop.set()
                    for p in pages:
                        p.join(timeout=30)
                    seen = [p.take() for p in pages]
                    watched.extend(seen)
        self._report(results, watched)

    def _report(
        self,
        results: dict[str, list[tuple[list[Result], Result, float, float]]],
        watched: list[Watched],
    ) -> None:
        for kind, runs in results.items():
            posts = [r for run in runs for r in run[0]]
            gets = [run[1] for run in runs]
            elapsed = sum(run[3] for run in runs)
            messages = sum(r.messages for r in posts)
            for r in [*posts, *gets]:
                self._count(r)
            post_lat = sorted(x for r in posts for x in r.latencies)
            get_lat = sorted(x for r in gets for x in r.latencies)
            f = self.figures
            f.add(f"{kind}_mt_msgs_per_s", messages / elapsed)
            f.add(f"{kind}_mt_post{POST_NUMBERS}_p50_ms", pct(post_lat, 0.50))
            f.add(f"{kind}_mt_post{POST_NUMBERS}_p99_ms", pct(post_lat, 0.99))
            f.add(f"{kind}_mt_get_probe_rps", sum(r.ok for r in gets) / elapsed)
            f.add(f"{kind}_mt_get_probe_p50_ms", pct(get_lat, 0.50))
            f.add(f"{kind}_mt_get_probe_p99_ms", pct(get_lat, 0.99))
            f.add(f"{kind}_server_cpu_pct", 100 * sum(run[2] for run in runs) / elapsed)
        on = results["on"]
        on_elapsed = sum(run[3] for run in on)
        sent = sum(r.messages for run in on for r in run[0]) / on_elapsed
        polls = sum(w.polls for w in watched)
        latencies = sorted(x for w in watched for x in w.latencies)
        # The newest whole second's count as the pages saw it, once the load had begun.
        seen = [n for w in watched for n in w.accepted_now[2:]]
        self.figures.add("live_pages", 2)
        self.figures.add("live_polls_per_s", polls / on_elapsed)
        self.figures.add("live_poll_p50_ms", pct(latencies, 0.50))
        self.figures.add("live_poll_p99_ms", pct(latencies, 0.99))
        self.figures.add("live_poll_errors", sum(w.errors for w in watched))
        self.errors += sum(w.errors for w in watched)
        self.figures.add("live_sent_msgs_per_s", sent)
        # Accepted comes in 2000-number requests, so a second holds 4,000 or 6,000 at 5,000/s:
        # the mean is the figure to hold against what was sent.
        self.figures.add("live_seen_accepted_per_s_mean", statistics.fmean(seen) if seen else 0.0)
        self.figures.add(
            "live_seen_accepted_per_s_median", float(statistics.median(seen)) if seen else 0.0
        )

    def _count(self, r: Result) -> None:
        if r.error_count:
            self.errors += r.error_count
            for reason, count in r.errors.most_common(5):
                note(f"# error x{count}: {reason}")


def pct(latencies: list[float], q: float) -> float:
    if not latencies:
        return float("nan")
    return latencies[max(1, math.ceil(q * len(latencies))) - 1] * 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rate", type=float, default=5000, help="messages a second offered")
    p.add_argument("--probe", type=float, default=20, help="single-number GETs a second")
    p.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    p.add_argument("--rounds", type=int, default=2, help="off/on pairs of phases")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for quiet")
    p.add_argument("--dir", help="parent of the temporary server directory")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.probe <= 0 or args.phase <= 0 or args.rounds < 1:
        p.error("--rate, --probe, --phase must be positive and --rounds at least 1")
    # What server_process.Server reads: the server as users run it.
    args.writer_stats, args.access_log, args.delivery, args.roles = False, "on", "on", "default"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    busy = start_quietly(args.wait_idle)
    if busy > 0.10:
        note("# WARNING: the machine is not idle; figures will be low and noisy")
    ok = Bench(args).run()
    if not ok:
        note("# FAIL: some answers were not stat=100, or a live poll failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
