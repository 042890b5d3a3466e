"""SMPP (and CMPP) benchmark: the platform submitting to `hongyan smsc` over loopback.

    .venv/bin/python bench/smpp.py [--messages 50000] [--binds 1 4] [--window 32]
    .venv/bin/python bench/smpp.py --response-delay 0.3 --messages 4000 --binds 1 2 4
    .venv/bin/python bench/smpp.py --peer node ...   # the independent SMSC instead
    .venv/bin/python bench/smpp.py --protocol cmpp3 ...  # a cmpp channel to `hongyan smsc
                                                         # --protocol cmpp3` (bench/cmpp.py)

For each bind count it starts `hongyan smsc` (receipts 50-100 ms after each
submit, so receipts flow while submitting) and `hongyan serve` with one smpp
channel to it, each in a process of its own, accepts `--messages` messages
in POSTs of 2000 numbers, and follows the SMSC's counters and the database.
`--response-delay S` has the SMSC answer each submit_sm S seconds after it
came in, as a distant carrier does: the windows, not a core, are then the
limit, and N binds should give N times one bind's rate. `--peer node` runs
tests/peers/smsc.js (node-smpp, which this project did not write; receipts
50 ms after the answer) in place of `hongyan smsc`.

  * `b{N}_submit_per_s`: submit_sm answered, over the time from the first
    POST until the SMSC has answered every one.
  * `b{N}_receipts_per_s`: receipts acknowledged (deliver_sm_resp, each sent
    only once its receipt is committed) over the time from the first POST to
    the last.
  * `b{N}_end_to_end_msgs_per_s`: messages final in the database, over the time
    from the first POST to the last final.
  * `b{N}_bind_share_min`: the least-loaded bind's submits over an even share
    (1.00: every bind carried the same; 0.25 for 4 binds: one carried all).

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
from collections import Counter
from pathlib import Path

from mt_api import FORM, HOST
from report import TARGETS, Figures, note
from server_process import Server, free_port, start_quietly

BATCH = 2000
TARGETS.update({"b1_submit_per_s": (">=", 5000)})
NODE_SMSC = Path(__file__).resolve().parent.parent / "tests" / "peers" / "smsc.js"


class Smsc:
    """`hongyan smsc` (or smsc.js) in its own process, read through its control port."""

    def __init__(
        self, hongyan: str, directory: Path, peer: str, response_delay: float, protocol: str
    ) -> None:
        self.port, self.control = free_port(), free_port()
        self.log = (directory / "smsc.log").open("wb")
        ports = ("--port", str(self.port), "--control-port", str(self.control))
        if peer == "node":
            argv = ["node", str(NODE_SMSC), *ports, "--receipt-delay-ms", "50"]
        else:
            argv = [hongyan, "smsc", "--quiet", *ports, "--receipt-delay", "0.05"]
            argv += ["--protocol", protocol]
        self.proc = subprocess.Popen(argv, cwd=directory, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.counters()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{peer} smsc did not start") from None
                time.sleep(0.05)
        if response_delay:
            self._post("/delay", {"seconds": response_delay})

    def _get(self, path: str) -> object:
        with urllib.request.urlopen(f"http://{HOST}:{self.control}{path}", timeout=30) as answer:
            return json.load(answer)

    def _post(self, path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"http://{HOST}:{self.control}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def counters(self) -> dict[str, int]:
        counters = self._get("/counters")
        assert isinstance(counters, dict)
        return counters

    def submits_per_bind(self) -> Counter[int]:
        submits = self._get("/submits")
        assert isinstance(submits, list)
        # smsc.js and `hongyan smsc` name the connection "bind"; the CMPP gateway "connection".
        return Counter(int(s.get("bind", s.get("connection", 0))) for s in submits)

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
    smsc = Smsc(server.hongyan, server.dir, args.peer, args.response_delay, args.protocol)
    channel: dict[str, object] = {
        "kind": "smpp",
        "name": "smpp",
        "port": smsc.port,
        "binds": binds,
        "window": args.window,
    }
    if args.protocol == "smpp":
        channel.update({"system_id": "hongyan", "password": "secret"})
    else:  # the simulator's demo SP code and shared secret
        version = "2.0" if args.protocol == "cmpp2" else "3.0"
        channel.update({"kind": "cmpp", "version": version, "sp_id": "901234"})
        channel.update({"secret": "secret", "service_id": "BENCH"})
    if args.peer == "node":  # hex ids in submit_sm_resp, decimal in the receipt text
        channel.update({"submit_id_base": "hex", "receipt_id_base": "dec"})
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
        per_bind = smsc.submits_per_bind()
        note(f"# submits per bind: {dict(sorted(per_bind.items()))}")
        even = args.messages / binds
        least = min(per_bind.values()) if len(per_bind) >= binds else 0
        figures.add("bind_share_min", least / even)
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
    p.add_argument(
        "--response-delay", type=float, default=0.0, help="seconds before each submit_sm_resp"
    )
    p.add_argument("--peer", choices=["hongyan", "node"], default="hongyan", help="the SMSC")
    p.add_argument(
        "--protocol", choices=["smpp", "cmpp2", "cmpp3"], default="smpp", help="the channel's"
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a run, at most")
    p.add_argument("--dir", help="parent of the temporary server directory")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for an idle box")
    p.add_argument("--writer-stats", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peer == "node" and args.protocol != "smpp":
        note("# --peer node speaks SMPP only")
        return 2
    start_quietly(args.wait_idle)
    passed = all([run(args, binds) for binds in args.binds])
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
