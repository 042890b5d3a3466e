"""SMPP benchmark: the platform submitting to `hongyan smsc` over loopback.

    .venv/bin/python bench/smpp.py [--messages 50000] [--binds 1 4] [--window 32]

For each bind count it starts `hongyan smsc` (receipts 50-100 ms after each
submit, so receipts flow while submitting) and `hongyan serve` with one smpp
channel to it, each in a process of its own, accepts `--messages` messages
in POSTs of 2000 numbers, and follows the SMSC's counters and the database:

  * `b{N}_submit_per_s`: submit_sm answered, over the time from the first
    POST until the SMSC has answered every one.
  * `b{N}_receipts_per_s`: receipts acknowledged (deliver_sm_resp, each sent
    only once its receipt is committed) over the time from the first POST to
    the last.
  * `b{N}_end_to_end_msgs_per_s`: messages final in the database, over the time
    from the first POST to the last final.

Every message must end exactly once (exit 1 otherwise). Each phase is bounded
by `--timeout`. Figures go to stdout, one a line; notes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mt_api import FORM, HOST
from report import TARGETS, Figures, note
from server_process import Server, free_port, start_quietly

BATCH = 2000
TARGETS.update({"b1_submit_per_s": (">=", 5000)})


class Smsc:
    """`hongyan smsc` in its own process, read through its control port."""

    def __init__(self, hongyan: str, directory: Path) -> None:
        self.port, self.control = free_port(), free_port()
        self.log = (directory / "smsc.log").open("wb")
        self.proc = subprocess.Popen(
            [
                hongyan,
                "smsc",
                "--quiet",
                *("--port", str(self.port), "--control-port", str(self.control)),
                *("--receipt-delay", "0.05"),
            ],
            cwd=directory,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.counters()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("hongyan smsc did not start") from None
                time.sleep(0.05)

    def counters(self) -> dict[str, int]:
        url = f"http://{HOST}:{self.control}/counters"
        with urllib.request.urlopen(url, timeout=5) as answer:
            counters: dict[str, int] = json.load(answer)
            return counters

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def post(port: int, first: int, count: int) -> None:
    # Ending in 5: never a number the SMSC refuses (…9999).
    numbers = ",".join(f"139{n:07d}5" for n in range(first, first + count))
    body = FORM + numbers.encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}/mt/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    if not text.startswith(b"sms&stat=100"):
        raise RuntimeError(f"POST refused: {text!r}")


def final_count(db: Path) -> tuple[int, int]:
    """(messages final, report rows)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        (final,) = conn.execute(
            "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')"
        ).fetchone()
        (reports,) = conn.execute("SELECT count(*) FROM reports").fetchone()
    finally:
        conn.close()
    return int(final), int(reports)


def run(args: argparse.Namespace, binds: int) -> bool:
    figures = Figures(f"b{binds}_")
    server = Server(args, workers=1)
    smsc = Smsc(server.hongyan, server.dir)
    channel = {
        "kind": "smpp",
        "name": "smpp",
        "port": smsc.port,
        "system_id": "hongyan",
        "password": "secret",
        "binds": binds,
        "window": args.window,
    }
    server.env.update(
        {
            "HONGYAN_CHANNELS": json.dumps([channel]),
            "HONGYAN_FALLBACK_CHANNEL": "smpp",
        }
    )
    ok = True
    try:
        server.start()
        deadline = time.monotonic() + args.timeout
        started = time.monotonic()
        for first in range(0, args.messages, BATCH):
            post(server.port, first, min(BATCH, args.messages - first))
        note(f"# accepted {args.messages} in {time.monotonic() - started:.2f} s")
        submitted_at = receipts_at = 0.0
        final = reports = 0
        while time.monotonic() < deadline:
            counters = smsc.counters()
            now = time.monotonic()
            if not submitted_at and counters["submits"] >= args.messages:
                submitted_at = now
            if not receipts_at and counters["receipts_acked"] >= args.messages:
                receipts_at = now
            final, reports = final_count(server.var / "hongyan.db")
            if final >= args.messages and submitted_at and receipts_at:
                break
            time.sleep(0.05)
        else:
            note(f"# timed out: {counters}, {final} final")
            return False
        figures.add("submit_per_s", args.messages / (submitted_at - started))
        figures.add("receipts_per_s", args.messages / (receipts_at - started))
        figures.add("end_to_end_msgs_per_s", args.messages / (time.monotonic() - started))
        if counters["submits"] != args.messages or reports != args.messages:
            note(f"# FAIL: {counters['submits']} submits, {reports} reports")
            ok = False
    finally:
        server.stop()
        smsc.stop()
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--messages", type=int, default=50_000)
    p.add_argument("--binds", type=int, nargs="+", default=[1, 4])
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a run, at most")
    p.add_argument("--dir", help="parent of the temporary server directory")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for an idle box")
    p.add_argument("--writer-stats", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_quietly(args.wait_idle)
    passed = all([run(args, binds) for binds in args.binds])
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
