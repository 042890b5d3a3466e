"""hongyan against Kannel, on the same machine, the same load generator, in one run.

    .venv/bin/python bench/compare_kannel.py [--install] [--rounds 2] [--duration 8]

Kannel is the C gateway operators pick today. Both gateways run as their
users run them, delivering every message they accept:

  * Kannel 1.4.5 from Debian's packages (`kannel`, and `kannel-extras` for
    `fakesmsc`, its fake SMSC): bearerbox with a file store, smsbox with
    sendsms, both with their access logs, and fakesmsc connected as the
    carrier, taking every message. `--install` runs
    `apt-get install -y kannel kannel-extras wrk` first (as root, or with
    sudo).
  * hongyan: `hongyan serve` with its defaults (the access log on, the
    simulated carrier delivering and its receipts recorded, `synchronous=FULL`).

The load is wrk with the same Lua script for both (`wrk_driver.py`):
single-number GETs, a fresh mobile number each, at each concurrency; an
answer counts only when it says the message was accepted (Kannel: 202
`0: Accepted for delivery`; hongyan: 200 `sms&stat=100&`). The gateways take
turns: each round starts both afresh, one after the other, and the one that
goes first alternates from round to round. After its load a gateway must
deliver every accepted message (fakesmsc's count; hongyan's messages final
with one report each) within `--drain-timeout`, or the run fails.

Figures go to stdout, one per line: `kannel_c64_rps`, `hongyan_c64_rps`,
`ratio_c64` (hongyan / Kannel, the median of the rounds' ratios) and the
latencies (`_p50_ms`, `_p99_ms`, medians over rounds). Every Kannel port
listens on 127.0.0.1 except the fake SMSC's, which Kannel cannot bind to one
address; it is told to take connections from 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen import Result
from mt_api import HOST, Mobiles
from report import Figures, note
from server_process import Server, free_port, start_quietly
from wrk_driver import write_wrk_script, wrk_run

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
KANNEL_USER, KANNEL_PASSWORD = "bench", "bench-password"
# 发送测试 in GBK, as the hongyan bench sends it.
KANNEL_TEXT = "%B7%A2%CB%CD%B2%E2%CA%D4"
KANNEL_OK = "0: Accepted"

KANNEL_CONF = """
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = bench
admin-allow-ip = 127.0.0.1
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 3
access-log = "{dir}/bearerbox-access.log"
store-type = file
store-location = "{dir}/kannel.store"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 3
access-log = "{dir}/smsbox-access.log"

group = sendsms-user
username = {user}
password = {password}
max-messages = 1
default-sender = 10690000
"""


class Kannel:
    """bearerbox, smsbox and fakesmsc in a temporary directory of their own."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="kannel-bench-", dir=args.dir))
        self.sendsms = free_port()
        ports = {"admin": free_port(), "box": free_port(), "smsc": free_port()}
        self.smsc_port = ports["smsc"]
        self.conf = self.dir / "kannel.conf"
        self.conf.write_text(
            KANNEL_CONF.format(
                dir=self.dir,
                sendsms=self.sendsms,
                user=KANNEL_USER,
                password=KANNEL_PASSWORD,
                **ports,
            )
        )
        self.received = self.dir / "fakesmsc.out"
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.sendsms}"

    def start(self) -> None:
        self._spawn([BEARERBOX, "-v", "3", str(self.conf)], "bearerbox.out")
        time.sleep(0.5)  # bearerbox opens its ports before the boxes connect
        # -m 0: no mobile-originated messages; it prints every message it is sent.
        self._spawn(
            [FAKESMSC, "-H", HOST, "-r", str(self.smsc_port), "-m", "0", "1 2 text x"],
            self.received.name,
        )
        self._spawn([SMSBOX, "-v", "3", str(self.conf)], "smsbox.out")
        self._wait_ready()

    def _spawn(self, argv: list[str], out: str) -> None:
        with open(self.dir / out, "wb") as log:
            self.procs.append(
                subprocess.Popen(argv, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
            )

    def _wait_ready(self, timeout: float = 30.0) -> None:
        """Until a message goes through sendsms to fakesmsc."""
        url = f"{self.base}/cgi-bin/sendsms?username={KANNEL_USER}&password={KANNEL_PASSWORD}"
        url += f"&to=13800000000&text={KANNEL_TEXT}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 202 and self.delivered() >= 1:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Kannel not ready after {timeout:.0f}s; see {self.dir}")

    def delivered(self) -> int:
        """Messages fakesmsc has received: it numbers them, `Got message N: <...>`."""
        try:
            with open(self.received, "rb") as out:
                out.seek(max(0, out.seek(0, os.SEEK_END) - 4096))
                tail = out.read()
        except OSError:
            return 0
        counts = re.findall(rb"Got message (\d+):", tail)
        return int(counts[-1]) if counts else 0

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for proc in self.procs:
            try:
                stat = Path(f"/proc/{proc.pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def cleanup(self) -> None:
        if self.args.keep:
            note(f"# kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Phase:
    """One load phase of one gateway: wrk's result and the gateway's CPU seconds."""

    result: Result
    cpu_s: float

    @property
    def rps(self) -> float:
        return self.result.ok / self.result.elapsed if self.result.elapsed else 0.0


class Round:
    """One gateway, started afresh, loaded at every concurrency, then drained."""

    def __init__(self, args: argparse.Namespace, mobiles: Mobiles) -> None:
        self.args = args
        self.mobiles = mobiles

    def kannel(self) -> dict[int, Phase] | None:
        kannel = Kannel(self.args)
        try:
            kannel.start()
            script = write_wrk_script(
                kannel.dir / "kannel.lua",
                prefix=f"/cgi-bin/sendsms?username={KANNEL_USER}&password={KANNEL_PASSWORD}&to=",
                suffix=f"&text={KANNEL_TEXT}",
                ok_status=202,
                ok_body=KANNEL_OK,
            )
            accepted = 1  # the readiness probe's
            results = {}
            for c in self.args.concurrency:
                results[c] = self._load(kannel.base, script, c, kannel.cpu_seconds)
                accepted += results[c].result.ok
            # wrk does not read the answers in flight when it stops: up to c per phase
            # were accepted beyond those counted.
            drained = _wait(lambda: kannel.delivered() >= accepted, self.args)
            note(f"# kannel delivered {kannel.delivered()} of about {accepted}")
            return results if drained else None
        finally:
            kannel.stop()
            kannel.cleanup()

    def hongyan(self) -> dict[int, Phase] | None:
        server = Server(self.args, 1)
        try:
            server.start()
            script = write_wrk_script(server.dir / "hongyan.lua")
            results = {}
            for c in self.args.concurrency:
                results[c] = self._load(server.base, script, c, server.cpu_seconds)

            def delivered() -> bool:
                messages, final, reported, doubled = server.delivery_counts()
                if doubled:
                    raise RuntimeError(f"{doubled} messages have more than one report")
                return messages == final == reported

            drained = _wait(delivered, self.args)
            note(f"# hongyan delivery counts {server.delivery_counts()}")
            return results if drained else None
        finally:
            server.stop()
            server.cleanup()

    def _load(self, base: str, script: Path, c: int, cpu: Callable[[], float]) -> Phase:
        seconds = self.args.duration
        wrk_run(base, script, self.mobiles, c, self.args.warmup_requests, self.args.warmup)
        time.sleep(0.15)
        before = cpu()
        result = wrk_run(base, script, self.mobiles, c, self.args.requests, seconds)
        phase = Phase(result, cpu() - before)
        note(f"# c={c}: {phase.rps:.0f} req/s, p99 {result.known_ms.get(0.99, 0):.2f} ms")
        if result.errors:
            note(f"# errors at c={c}: {dict(result.errors)}")
        return phase


def _wait(done: Callable[[], bool], args: argparse.Namespace) -> bool:
    deadline = time.monotonic() + args.drain_timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.5)
    note(f"# not everything was delivered within {args.drain_timeout:.0f}s")
    return False


def install() -> None:
    packages = ["kannel", "kannel-extras", "wrk"]
    argv = ["apt-get", "install", "-y", "-q", *packages]
    if os.geteuid() != 0:
        argv = ["sudo", *argv]
    note("# " + " ".join(argv))
    subprocess.run(argv, check=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--install", action="store_true", help="apt-get install kannel first")
    p.add_argument("--rounds", type=int, default=2, help="rounds; the first gateway alternates")
    p.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 16, 64], help="GET concurrencies"
    )
    p.add_argument("--duration", type=float, default=8.0, help="seconds per load phase, at most")
    p.add_argument("--requests", type=int, default=200_000, help="GETs per phase, at most")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per phase, at most")
    p.add_argument("--warmup-requests", type=int, default=2_000, help="warm-up GETs, at most")
    p.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds for every message to go"
    )
    p.add_argument("--dir", help="parent of the temporary directories (None: the system one)")
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for quiet")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = p.parse_args(argv)
    # What server_process.Server reads: the gateway as its users run it.
    args.access_log, args.delivery, args.roles = "on", "on", "default"
    args.port, args.writer_stats = 0, False
    if args.rounds < 1 or min(args.concurrency) < 1 or args.duration <= 0:
        p.error("rounds, concurrencies and the duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.install:
        install()
    for tool in (BEARERBOX, SMSBOX, FAKESMSC):
        if not Path(tool).exists():
            note(f"# {tool} is missing: run with --install (apt-get install kannel kannel-extras)")
            return 2
    if shutil.which("wrk") is None:
        note("# wrk is missing: run with --install (apt-get install wrk)")
        return 2
    if start_quietly(args.wait_idle) > 0.10:
        note("# WARNING: the machine is not idle; figures will be low and noisy")
    mobiles = Mobiles()
    runs: dict[str, list[dict[int, Phase]]] = {"kannel": [], "hongyan": []}
    for number in range(args.rounds):
        order = ["kannel", "hongyan"] if number % 2 == 0 else ["hongyan", "kannel"]
        for name in order:
            note(f"# round {number + 1}: {name}")
            one = Round(args, mobiles)
            results = one.kannel() if name == "kannel" else one.hongyan()
            if results is None:
                note(f"# FAIL: {name} did not deliver everything it accepted")
                return 1
            runs[name].append(results)
    return report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, list[dict[int, Phase]]]) -> int:
    figures = Figures("")
    failed = False
    for c in args.concurrency:
        rps = {}
        for name, rounds in runs.items():
            phases = [r[c] for r in rounds]
            failed |= any(p.result.errors for p in phases)
            rps[name] = [p.rps for p in phases]
            figures.add(f"{name}_c{c}_rps", statistics.median(rps[name]))
            for q, label in ((0.5, "p50"), (0.99, "p99")):
                latency = statistics.median(p.result.known_ms.get(q, 0.0) for p in phases)
                figures.add(f"{name}_c{c}_{label}_ms", latency)
            cpu = [p.cpu_s / p.result.elapsed * 100 for p in phases if p.result.elapsed]
            figures.add(f"{name}_c{c}_cpu_pct", statistics.median(cpu) if cpu else 0.0)
        ratios = [h / k for h, k in zip(rps["hongyan"], rps["kannel"], strict=True) if k]
        figures.add(f"ratio_c{c}", round(statistics.median(ratios), 3) if ratios else 0.0)
    if failed:
        note("# FAIL: some answers were not acceptances")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
