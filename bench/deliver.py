"""Delivery benchmark: accepted → final report handed out by /st/, on the simulator.

    .venv/bin/python bench/deliver.py [--messages 100000] [--backlog 100000] [--timeout 120]

It makes a temporary directory with a bench account (huge balance, limits
off), starts `hongyan serve` on 127.0.0.1 and a free ephemeral port with the
simulated carrier answering at once (HONGYAN_SIMULATOR__DELAY_MIN_S=0,
..._MAX_S=0), and drives it from this process over raw keep-alive sockets:

  * `deliver`: POSTs of 2000 fresh numbers (concurrency 2) while one client
    calls /st/ in a loop (sleeping 10 ms after an empty answer) until every
    accepted message's report has come back. End-to-end messages/s is the
    messages over the time from the first POST to the last report.
  * `backlog`: the same POSTs with nobody calling /st/; the time until the
    last message is final (read from the SQLite file) gives end-to-end
    messages/s without /st/ in the way.
  * `st`: those reports, all waiting, drained by /st/ calls one after another
    (500 a call): p50/p99/max ms of the calls that returned 500, reports/s.

`--writer-stats` adds the group-commit writer's batches, mean batch size,
busy share and mean commit time per phase (server_process's sitecustomize
hook). Every phase is bounded by `--timeout` seconds. Each report must come exactly
once (by mobileid); the exit status is 1 otherwise. Figures go to stdout,
one a line; notes to stderr. `--profile FILE` samples the server with py-spy
during the phase `--profile-phase` (deliver, backlog or st).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from loadgen import Result, asyncio_run, drive, open_conns
from mt_api import FORM, HOST, UID, Mobiles, post_request
from profiling import finish_profile, start_profile
from report import TARGETS, Figures, note
from server_process import Server, Snapshot, start_quietly

BATCH = 2000  # numbers a POST
TARGETS.update(
    {
        "deliver_msgs_per_s": (">=", 5000),
        "st_p50_ms": ("<", 20),
        "st_p99_ms": ("<", 20),
    }
)
SIMULATOR = {
    "HONGYAN_SIMULATOR__DELAY_MIN_S": "0",
    "HONGYAN_SIMULATOR__DELAY_MAX_S": "0",
    "HONGYAN_SIMULATOR__FAILURE_RATIO": "0",
}


def percentile_ms(sorted_seconds: list[float], q: float) -> float:
    if not sorted_seconds:
        return float("nan")
    return sorted_seconds[max(1, math.ceil(q * len(sorted_seconds))) - 1] * 1000


@dataclass
class Reports:
    """What /st/ handed out: counted by mobileid, with the time of each call."""

    seen: Counter[bytes] = field(default_factory=Counter)
    statuses: Counter[bytes] = field(default_factory=Counter)
    full_calls: list[float] = field(default_factory=list)  # seconds, calls answering a full page
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_at: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.seen.values())

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.seen.values() if n > 1)


class StClient:
    """One keep-alive connection calling GET /st/ for the bench account."""

    def __init__(self, port: int, page: int) -> None:
        self.port = port
        self.page = page
        pwd = FORM.split(b"&pwd=", 1)[1].split(b"&", 1)[0]
        self.request = b"GET /st/?uid=%s&pwd=%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (
            UID.encode(),
            pwd,
            HOST.encode(),
            port,
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> StClient:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()

    async def call(self, into: Reports) -> int:
        """One /st/ call; the reports it answered (added to `into`)."""
        assert self.reader is not None and self.writer is not None
        started = time.perf_counter()
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        length = int(lower[at + 17 : lower.find(b"\r\n", at + 17)]) if at >= 0 else 0
        body = await self.reader.readexactly(length)
        latency = time.perf_counter() - started
        into.calls += 1
        status = head[9:12]
        if status != b"200" or body.startswith(b"sms&"):
            into.errors[f"HTTP {status.decode()} {body[:60].decode('gbk', 'replace')!r}"] += 1
            return 0
        if not body:
            return 0
        lines = body.split(b"\n")
        for line in lines:
            fields = line.split(b",")
            if len(fields) != 4:
                into.errors[f"bad report line {line[:60]!r}"] += 1
                continue
            into.seen[fields[2]] += 1
            into.statuses[fields[1]] += 1
        into.last_at = time.perf_counter()
        if len(lines) == self.page:
            into.full_calls.append(latency)
        return len(lines)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server = Server(args, 1)
        self.server.env.update(SIMULATOR)
        if args.synchronous:
            self.server.env["HONGYAN_SQLITE_SYNCHRONOUS"] = args.synchronous
        self.mobiles = Mobiles()
        self.figures = Figures("")
        self.ok = True
        self.profile: subprocess.Popen[bytes] | None = None
        self._backlog_expected = 0

    def run(self) -> bool:
        try:
            self.server.start()
            if self.args.messages:
                asyncio_run(self._deliver())
            if self.args.backlog:
                waiting = self._backlog()
                if waiting:
                    asyncio_run(self._drain(waiting))
        finally:
            self.server.stop()
            if self.profile is not None:
                self.profile.terminate()
        self.figures.add("result", "PASS" if self.ok else "FAIL")
        self.server.cleanup()
        return self.ok

    # phases

    async def _deliver(self) -> None:
        """POSTs and /st/ at once, until every accepted message's report is back."""
        n = self.args.messages
        posts = math.ceil(n / BATCH)
        make = post_request(self.server.port, self.mobiles, BATCH)
        conns = await open_conns(self.server.port, self.args.post_concurrency)
        reports = Reports()
        expected = [posts * BATCH]  # until the POSTs are answered
        before = self._begin("deliver")
        started = time.perf_counter()
        deadline = time.monotonic() + self.args.timeout

        async def poll() -> None:
            async with StClient(self.server.port, self.args.page) as st:
                while reports.count < expected[0] and time.monotonic() < deadline:
                    if not await st.call(reports):
                        await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        try:
            accepted = await drive(conns, make, BATCH, posts, self.args.timeout)
        finally:
            for conn in conns:
                conn.close()
        accepted_at = started + accepted.elapsed
        expected[0] = accepted.messages
        await poller
        elapsed = reports.last_at - started if reports.count else float("nan")
        after = self.server.snapshot()
        f = self.figures.add
        f("deliver_messages", accepted.messages)
        f("deliver_msgs_per_s", reports.count / elapsed if reports.count else 0.0)
        f("deliver_seconds", elapsed)
        f("deliver_accept_msgs_per_s", accepted.messages / (accepted.elapsed or math.nan))
        f("deliver_tail_s", reports.last_at - accepted_at if reports.count else math.nan)
        self._check("deliver", reports, accepted.messages, accepted.error_count)
        f("deliver_st_calls", reports.calls)
        f("deliver_st_full_p50_ms", percentile_ms(sorted(reports.full_calls), 0.5))
        f("deliver_st_full_p99_ms", percentile_ms(sorted(reports.full_calls), 0.99))
        self._cpu("deliver", before, after, accepted.client_cpu)
        self._end("deliver")

    def _backlog(self) -> int:
        """POSTs with nobody fetching; the seconds until every message is final (SQLite)."""
        n = self.args.backlog
        posts = math.ceil(n / BATCH)
        before = self._begin("backlog")
        started = time.perf_counter()
        accepted_holder: list[Result] = []

        async def post() -> None:
            make = post_request(self.server.port, self.mobiles, BATCH)
            conns = await open_conns(self.server.port, self.args.post_concurrency)
            try:
                accepted_holder.append(await drive(conns, make, BATCH, posts, self.args.timeout))
            finally:
                for conn in conns:
                    conn.close()

        asyncio_run(post())
        accepted = accepted_holder[0]
        if os.environ.get("HONGYAN_DATABASE_URL"):
            note("# backlog: not the SQLite default; waiting for reports is not supported")
            self.ok = False
            return 0
        deadline = time.monotonic() + self.args.timeout
        waiting = 0
        db = sqlite3.connect(self.server.var / "hongyan.db", timeout=30)
        try:
            while time.monotonic() < deadline:
                (waiting,) = db.execute(
                    "SELECT count(*) FROM reports r JOIN accounts a ON a.id = r.account_id"
                    " WHERE a.uid = ? AND r.fetched_at IS NULL",
                    (UID,),
                ).fetchone()
                if waiting >= accepted.messages:
                    break
                time.sleep(0.05)
        finally:
            db.close()
        final_at = time.perf_counter()
        after = self.server.snapshot()
        f = self.figures.add
        f("backlog_messages", accepted.messages)
        f("backlog_msgs_per_s", waiting / (final_at - started))
        f("backlog_seconds", final_at - started)
        f("backlog_accept_msgs_per_s", accepted.messages / (accepted.elapsed or math.nan))
        if waiting < accepted.messages or accepted.error_count:
            note(
                f"# backlog: {waiting} of {accepted.messages} reports within {self.args.timeout}s,"
                f" {accepted.error_count} POST errors"
            )
            self.ok = False
        self._cpu("backlog", before, after, accepted.client_cpu)
        self._end("backlog")
        self._backlog_expected = accepted.messages
        return int(waiting)

    async def _drain(self, waiting: int) -> None:
        """/st/ calls one after another until the waiting reports are all handed out."""
        reports = Reports()
        await asyncio.sleep(0.2)
        before = self._begin("st")
        started = time.perf_counter()
        deadline = time.monotonic() + self.args.timeout
        usage = time.process_time()
        async with StClient(self.server.port, self.args.page) as st:
            while time.monotonic() < deadline and await st.call(reports):
                pass
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - usage
        after = self.server.snapshot()
        full = sorted(reports.full_calls)
        f = self.figures.add
        f("st_waiting", waiting)
        f("st_calls", reports.calls)
        f("st_full_calls", len(full))
        f("st_p50_ms", percentile_ms(full, 0.5))
        f("st_p99_ms", percentile_ms(full, 0.99))
        f("st_max_ms", percentile_ms(full, 1.0))
        f("st_reports_per_s", reports.count / elapsed)
        self._check("st", reports, self._backlog_expected, 0)
        self._cpu("st", before, after, client_cpu)
        self._end("st")

    # bookkeeping

    def _begin(self, phase: str) -> Snapshot:
        note(f"# phase {phase}")
        if self.args.profile is not None and self.args.profile_phase == phase:
            self.profile = start_profile(
                self.server, self.args.profile, self.args.profile_seconds, self.args.profile_mode
            )
        return self.server.snapshot()

    def _end(self, phase: str) -> None:
        self.figures.note_targets(phase)
        if self.profile is not None and self.args.profile_phase == phase:
            finish_profile(
                self.profile,
                self.args.profile,
                self.args.profile_seconds,
                self.args.profile_mode,
                self.args.profile_top,
            )
            self.profile = None

    def _check(self, phase: str, reports: Reports, expected: int, post_errors: int) -> None:
        f = self.figures.add
        f(f"{phase}_reports", reports.count)
        f(f"{phase}_duplicates", reports.duplicates)
        missing = expected - len(reports.seen)
        f(f"{phase}_missing", missing)
        failed = sum(n for s, n in reports.statuses.items() if s != b"100")
        f(f"{phase}_failed_reports", failed)  # the simulator's test numbers (…0000-0002)
        errors = post_errors + sum(reports.errors.values())
        f(f"{phase}_errors", errors)
        for reason, count in reports.errors.most_common(5):
            note(f"# {phase} error x{count}: {reason}")
        if reports.duplicates or missing or errors:
            self.ok = False

    def _cpu(self, phase: str, before: Snapshot, after: Snapshot, client_cpu: float) -> None:
        window = after.at - before.at
        server = after.server_cpu - before.server_cpu
        other = after.busy - before.busy - server - client_cpu
        self.figures.add(f"{phase}_server_cpu_pct", 100 * server / window)
        self.figures.add(f"{phase}_other_cpu_pct", max(0.0, 100 * other / window))
        if other / window > 0.10:
            note(f"# WARNING: other processes used {100 * other / window:.0f}% of a CPU")
        if after.writer is not None and before.writer is not None:
            w = after.writer - before.writer
            if w.batches:
                self.figures.add(f"{phase}_writer_batches", w.batches)
                self.figures.add(f"{phase}_writer_batch_mean", w.items / w.batches)
                self.figures.add(f"{phase}_writer_busy_pct", 100 * w.busy_s / window)
                self.figures.add(f"{phase}_writer_commit_mean_ms", 1000 * w.busy_s / w.batches)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--messages", type=int, default=100_000, help="deliver phase (0: skip)")
    p.add_argument("--backlog", type=int, default=100_000, help="backlog and st phases (0: skip)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a phase, at most")
    p.add_argument("--post-concurrency", type=int, default=2, help="concurrent POSTs")
    p.add_argument("--page", type=int, default=500, help="the server's reports a /st/ call")
    p.add_argument("--synchronous", help="HONGYAN_SQLITE_SYNCHRONOUS (None: the default, FULL)")
    p.add_argument("--writer-stats", action="store_true", help="report group-commit batches")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of one phase, here")
    p.add_argument(
        "--profile-phase", choices=("deliver", "backlog", "st"), default="deliver", help="which"
    )
    p.add_argument("--profile-seconds", type=float, default=10.0, help="py-spy duration")
    p.add_argument("--profile-mode", choices=("gil", "cpu"), default="gil", help="py-spy samples")
    p.add_argument("--profile-top", type=int, default=25, help="functions listed from a profile")
    p.add_argument("--dir", help="parent of the temporary server directory (None: the system one)")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free ephemeral one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for an idle box")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.messages < 0 or args.backlog < 0 or args.timeout <= 0 or args.post_concurrency < 1:
        p.error("counts must not be negative, timeout and concurrency positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_quietly(args.wait_idle)
    try:
        passed = Bench(args).run()
    except KeyboardInterrupt:
        note("# interrupted")
        return 130
    if not passed:
        note("# FAIL: reports missing, doubled, or answers not as expected")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
