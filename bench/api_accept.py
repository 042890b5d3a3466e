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
import shutil
import subprocess
import sys
import time
from pathlib import Path

from loadgen import Result, asyncio_run, drive, open_conns
from mt_api import Mobiles, get_request, post_request
from profiling import finish_profile, start_profile
from report import Figures, note
from server_process import Server, Snapshot, start_quietly
from wrk_driver import write_wrk_script, wrk_run


class Bench:
    """One run against a fresh server of `workers` workers: GET phases, POST phase, checks."""

    def __init__(self, args: argparse.Namespace, workers: int, prefix: str) -> None:
        self.args = args
        self.workers = workers
        self.server = Server(args, workers)
        self.mobiles = Mobiles()
        self.expected_messages = 0  # every number answered 100, warm-ups included
        self.unread_allowance = 0  # requests wrk may have left in flight
        self.errors = 0
        self.figures = Figures(prefix)

    def run(self) -> bool:
        try:
            self.server.start()
            self.figures.add("workers", self.workers)
            if self.args.driver == "wrk":
                self._wrk_gets()
            else:
                asyncio_run(self._python_gets())
            asyncio_run(self._posts())
            delivered = self._wait_delivered() if self.args.delivery == "on" else True
        finally:
            self.server.stop()
        ok = self._check_store() and delivered
        self.figures.add("errors_total", self.errors)
        self.figures.add("result", "PASS" if ok and self.errors == 0 else "FAIL")
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
                before = self.server.snapshot()
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
        script = write_wrk_script(self.server.dir / "bench.lua")
        for c in self.args.concurrency:
            warm = wrk_run(
                self.server.base,
                script,
                self.mobiles,
                c,
                self.args.warmup_requests,
                self.args.warmup,
            )
            self.unread_allowance += 2 * c  # this run and the next
            self._count(warm, warmup=True)
            time.sleep(0.15)
            before = self.server.snapshot()
            profile = self._maybe_profile(c)
            result = wrk_run(
                self.server.base, script, self.mobiles, c, self.args.requests, self.args.duration
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
            before = self.server.snapshot()
            profile = self._maybe_profile(None)
            result = await drive(conns, make, n, self.args.posts, self.args.duration)
            self._finish(f"mt_post{n}", result, before, profile, numbers=n)
        finally:
            for conn in conns:
                conn.close()

    # bookkeeping

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
        after = self.server.snapshot()
        server_cpu = after.server_cpu - before.server_cpu
        # Whatever else ran on the machine meanwhile (the whole window, sleeps included).
        window = after.at - before.at
        other = after.busy - before.busy - server_cpu - r.client_cpu
        self._count(r, warmup=False)
        elapsed = r.elapsed or float("nan")
        if numbers > 1:
            self.figures.add(f"{name}_msgs_per_s", r.messages / elapsed)
        self.figures.add(f"{name}_rps", r.ok / elapsed)
        self.figures.add(f"{name}_p50_ms", r.percentile_ms(0.50))
        self.figures.add(f"{name}_p99_ms", r.percentile_ms(0.99))
        self.figures.add(f"{name}_p999_ms", r.percentile_ms(0.999))
        self.figures.add(f"{name}_max_ms", r.percentile_ms(1.0))
        self.figures.add(f"{name}_requests", r.requests)
        self.figures.add(f"{name}_seconds", r.elapsed)
        self.figures.add(f"{name}_errors", r.error_count)
        self.figures.add(f"{name}_server_cpu_pct", 100 * server_cpu / elapsed)
        self.figures.add(f"{name}_client_cpu_pct", 100 * r.client_cpu / elapsed)
        self.figures.add(f"{name}_other_cpu_pct", max(0.0, 100 * other / window))
        self.figures.add(f"{name}_steal_pct", 100 * (after.steal - before.steal) / window)
        if other / window > 0.10:
            note(f"# WARNING: other processes used {100 * other / window:.0f}% of a CPU")
        w = None
        if after.writer is not None and before.writer is not None:
            w = after.writer - before.writer
        if w is not None and w.batches:
            self.figures.add(f"{name}_writer_batches", w.batches)
            self.figures.add(f"{name}_writer_batch_mean", w.items / w.batches)
            if sum(w.hist):  # the hook could time GroupCommitWriter._commit
                self.figures.add(f"{name}_writer_busy_pct", 100 * w.busy_s / elapsed)
                labels = [f"{1 << i}-{(2 << i) - 1}" if i else "1" for i in range(12)]
                sizes = ", ".join(f"{k}: {n}" for k, n in zip(labels, w.hist, strict=True) if n)
                note(f"# {self.figures.prefix}{name} writer batch sizes {{{sizes}}}")
        elif self.args.writer_stats:
            hook = [ln for ln in self.server.log_tail(200).splitlines() if "bench writer" in ln]
            note(f"# writer stats unavailable: {hook[-1] if hook else 'no report from the server'}")
        self.figures.note_targets(name)
        if profile is not None:
            finish_profile(
                profile,
                self._profile_path(),
                self.args.duration,
                self.args.profile_mode,
                self.args.profile_top,
            )

    def _wait_delivered(self) -> bool:
        """Every message stored is final with exactly one report, within the bound.

        What `hongyan serve` promises for each message it accepted, checked on
        the file while the server still runs (its own WAL readers are welcome)."""
        started = time.monotonic()
        deadline = started + self.args.drain_timeout
        counts = (0, 0, 0, 0)
        while time.monotonic() < deadline:
            counts = self.server.delivery_counts()
            messages, final, reported, doubled = counts
            if doubled:
                break
            if messages and final == messages and reported == messages:
                self.figures.add("drained_s", time.monotonic() - started)
                return True
            time.sleep(0.5)
        messages, final, reported, doubled = counts
        note(
            f"# DELIVERY CHECK FAILED: {messages} messages, {final} final, {reported} with a"
            f" report, {doubled} with more than one"
        )
        return False

    def _check_store(self) -> bool:
        stored = self.server.stored_messages()
        if stored is None:
            note("# not a SQLite file of ours: database check skipped")
            return True
        rows, sent = stored
        self.figures.add("db_messages_expected", self.expected_messages)
        self.figures.add("db_messages_stored", rows)
        self.figures.add("db_parts_charged", sent)
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
    p.add_argument(
        "--access-log",
        choices=("on", "off"),
        default="on",
        help="the server's access log (on: as users run it)",
    )
    p.add_argument(
        "--delivery",
        choices=("on", "off"),
        default="on",
        help="the dispatcher and simulated carrier (on: as users run it); on also checks"
        " that every accepted message ends once with one report",
    )
    p.add_argument(
        "--roles",
        choices=("default", "all", "split"),
        default="default",
        help="default: plain `serve` (the API, and a delivery worker child beside it);"
        " all: `serve --role all`, one process accepts and delivers; split: `serve --role"
        " api` and a `serve --role worker` started beside it by the bench",
    )
    p.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds for every message to end"
    )
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
    busy = start_quietly(args.wait_idle)
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
