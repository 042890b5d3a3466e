"""Crash recovery of the delivery loop: `hongyan serve` killed mid-flight and started again.

20,000 messages are accepted (10 POSTs of 2000 distinct numbers, 15 % of them
test numbers that fail, the last 2000 three parts long; the account refunds
failures), the server is killed with SIGKILL while messages are
still queued and submitted without their receipts, and started again on the
same directory. Every accepted message must then end with exactly one final
state and exactly one status report, /st/ must hand out each report once, and
no charge or refund may be lost or doubled (the ledger explains the balance).
A second test kills it once more while it is recovering.

Reports are fetched only between kills, never while a /st/ call is in flight:
a call whose answer is lost has still marked its reports fetched.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests import waiting
from tests.integration.test_serve import HONGYAN, SUCCESS, cli, cli_env, free_port

UID, PASSWORD = "crash", "crash-password"
PWD = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
BATCHES, PER_BATCH = 10, 2000
ACCEPTED = BATCHES * PER_BATCH
LONG_BATCH = BATCHES - 1  # its messages are 3 parts long (150 characters)
PARTS = ACCEPTED + 2 * PER_BATCH
FAILED = ACCEPTED * 3 // 20
FAILED_PARTS = FAILED + 2 * PER_BATCH * 3 // 20
BALANCE = 100_000
# The simulator fails these numbers, whatever else happens (channels/simulator.py).
FAILING = {"0000": "UNDELIV", "0001": "EXPIRED", "0002": "REJECTD"}
# All reports after the restart, at most: only ends a test that would hang
# (about 20 s on a quiet machine, several times that on a loaded one).
RECOVERY_S = 300


class Server:
    """`hongyan serve` in `directory` with delivery settings of its own, killable."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / f"serve-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*HONGYAN, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=directory,
                env={**cli_env(), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + waiting.WAIT_S
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError(f"serve did not start:\n{self.output()}")
            time.sleep(0.05)
        self.http = httpx.Client(base_url=self.url, timeout=waiting.WAIT_S)

    def kill(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def reports(self) -> list[tuple[str, str, str, str]]:
        """One /st/ call: (mobile, status, mobileid, time) a report."""
        answer = self.http.get("/st/", params={"uid": UID, "pwd": PWD})
        assert answer.status_code == 200, answer.text
        body = answer.content.decode("gbk")
        if not body:
            return []
        lines = [tuple(line.split(",")) for line in body.split("\n")]
        assert all(len(line) == 4 for line in lines), body[:500]
        return lines  # type: ignore[return-value]


def number(batch: int, index: int) -> str:
    """Distinct numbers; 3 in 20 end in a failing test suffix."""
    tail = ("0000", "0001", "0002")[index % 20] if index % 20 < 3 else "5555"
    return f"13{batch}{index:04d}{tail}"


def expected_status(mobile: str) -> str:
    return FAILING.get(mobile[-4:], "100")


@contextlib.contextmanager
def database(directory: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(directory / "var" / "hongyan.db", timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def states(directory: Path) -> Counter[str]:
    with database(directory) as db:
        return Counter(dict(db.execute("SELECT state, count(*) FROM messages GROUP BY state")))


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `check`, for at least `timeout` s (tests/waiting.py: a generous bound)."""
    waiting.until(check, what, timeout)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    for args in [
        ("account", "create", UID, "--password", PASSWORD, "--balance", str(BALANCE)),
        ("account", "limits", UID, "--rate", "off", "--per-number", "off"),
        ("account", "refund", UID, "on"),  # failures are refunded: refunds must not double
    ]:
        done = cli(tmp_path, *args)
        assert done.returncode == 0, done.stderr
    return tmp_path


SETTINGS = {
    "HONGYAN_ACCESS_LOG": "false",
    "HONGYAN_SIMULATOR__DELAY_MIN_S": "0.2",
    "HONGYAN_SIMULATOR__DELAY_MAX_S": "1.0",
    "HONGYAN_LEASE_S": "2",
    "HONGYAN_DISPATCH_POLL_S": "0.05",
    "HONGYAN_RETRY_BASE_S": "0.2",
    "HONGYAN_RETRY_MAX_S": "1",
}


def test_sigkill_mid_flight_loses_and_doubles_nothing(directory: Path) -> None:
    started = time.monotonic()
    first = Server(directory, SETTINGS)
    sent: dict[str, str] = {}  # mobileid -> mobile
    fetched: list[tuple[str, str, str, str]] = []
    try:
        for batch in range(BATCHES):
            mobiles = [number(batch, i) for i in range(PER_BATCH)]
            ids = [f"b{batch}m{i}" for i in range(PER_BATCH)]
            form = {
                "uid": UID,
                "pwd": PWD,
                "mobile": ",".join(mobiles),
                "mobileids": ",".join(ids),
                "content": "长" * 150 if batch == LONG_BATCH else "您的验证码是 4321",
                "encode": "utf8",
            }
            answer = first.http.post("/mt/", data=form)
            assert answer.content == SUCCESS, answer.content.decode("gbk", "replace")
            sent.update(zip(ids, mobiles, strict=True))
        # Some reports handed out before the crash (each call finished: none in flight).
        fetched += first.reports()

        def mid_flight() -> bool:
            now = states(directory)
            final = now["delivered"] + now["failed"]
            return final >= 1000 and now["sent"] > 0 and (now["queued"] > 0 or final > 5000)

        until(mid_flight, 30, "messages final, submitted and queued at once")
        fetched += first.reports()
    finally:
        first.kill()
    at_kill = states(directory)
    with database(directory) as db:
        (leased,) = db.execute(
            "SELECT count(*) FROM messages WHERE state = 'queued' AND lease_until IS NOT NULL"
        ).fetchone()
    print(f"killed with {dict(at_kill)}, {leased} queued under lease, {len(fetched)} fetched")
    assert at_kill["sent"] > 0, f"not killed mid-flight: {at_kill}"
    assert at_kill["delivered"] + at_kill["failed"] < ACCEPTED

    second = Server(directory, SETTINGS)
    try:
        deadline = time.monotonic() + RECOVERY_S
        while len(fetched) < ACCEPTED and time.monotonic() < deadline:
            got = second.reports()
            fetched += got
            if not got:
                time.sleep(0.1)
        time.sleep(0.5)
        fetched += second.reports()  # nothing more may come
        remain = second.http.get("/mm/", params={"uid": UID, "pwd": PWD}).text
    finally:
        second.stop()
    print(f"{len(fetched)} reports in {time.monotonic() - started:.1f} s")

    by_id = Counter(r[2] for r in fetched)
    doubled = {k: n for k, n in by_id.items() if n > 1}
    missing = set(sent) - set(by_id)
    assert not doubled, f"{len(doubled)} reported more than once, e.g. {list(doubled)[:5]}"
    assert not missing, f"{len(missing)} accepted without a report, e.g. {list(missing)[:5]}"
    assert len(fetched) == ACCEPTED
    wrong = [r for r in fetched if r[0] != sent[r[2]] or r[1] != expected_status(r[0])]
    assert not wrong, f"{len(wrong)} reports with the wrong number or status, e.g. {wrong[:5]}"

    with database(directory) as db:
        q = db.execute
        assert dict(q("SELECT state, count(*) FROM messages GROUP BY state").fetchall()) == {
            "delivered": ACCEPTED - FAILED,
            "failed": FAILED,
        }
        # One report row a message: as many rows as messages, each for another message.
        assert (
            q(
                "SELECT count(*), count(DISTINCT message_id), count(fetched_at),"
                " (SELECT count(*) FROM messages) FROM reports"
            ).fetchone()
            == (ACCEPTED,) * 4
        )
        # Every part final; a part accepted upstream is recorded once (its primary key).
        assert dict(q("SELECT state, count(*) FROM message_parts GROUP BY state").fetchall()) == {
            "delivered": PARTS - FAILED_PARTS,
            "failed": FAILED_PARTS,
        }
        balance, sent_total = q(
            "SELECT balance, sent_total FROM accounts WHERE uid = ?", (UID,)
        ).fetchone()
        ledger = dict(
            q(
                "SELECT kind, sum(delta) FROM ledger"
                " JOIN accounts ON accounts.id = ledger.account_id"
                " WHERE uid = ? GROUP BY kind",
                (UID,),
            ).fetchall()
        )
        (charged,) = q("SELECT sum(charged) FROM messages").fetchone()
        (failed_charged,) = q(
            "SELECT coalesce(sum(charged), 0) FROM messages WHERE state = 'failed'"
        ).fetchone()
        (refunds,) = q("SELECT count(*) FROM ledger WHERE kind = 'refund'").fetchone()
    assert charged == PARTS == -ledger["charge"], (charged, ledger)
    assert sent_total == PARTS
    assert ledger.get("refund", 0) == failed_charged == FAILED_PARTS, ledger
    assert refunds == FAILED  # one refund a failed message, never two
    assert balance == sum(ledger.values()) == BALANCE - PARTS + FAILED_PARTS
    assert remain == f"sms&stat=100&remain={balance}"
    assert "Traceback" not in first.output() + second.output(), second.output()[-3000:]


def test_killed_twice_once_again_during_recovery(directory: Path) -> None:
    """A second SIGKILL soon after the restart, while leases and resumed receipts are pending."""
    slow = {
        **SETTINGS,
        "HONGYAN_SIMULATOR__DELAY_MIN_S": "0.5",
        "HONGYAN_SIMULATOR__DELAY_MAX_S": "1.5",
    }
    server = Server(directory, slow)
    sent: set[str] = set()
    try:
        for batch in range(4):
            mobiles = [number(batch, i) for i in range(PER_BATCH)]
            ids = [f"b{batch}m{i}" for i in range(PER_BATCH)]
            form = {"uid": UID, "pwd": PWD, "mobile": ",".join(mobiles), "mobileids": ",".join(ids)}
            form["content"] = "x"
            assert server.http.post("/mt/", data=form).content == SUCCESS
            sent.update(ids)
        until(lambda: states(directory)["sent"] > 0, 10, "some messages submitted")
    finally:
        server.kill()
    before = states(directory)
    server = Server(directory, slow)
    try:
        # Resumed receipts and expired leases pending, some recorded.
        until(lambda: states(directory) != before, 30, "some recovery recorded")
    finally:
        server.kill()
    assert states(directory)["sent"] + states(directory)["queued"] > 0, "recovery already done"
    server = Server(directory, slow)
    fetched: list[tuple[str, str, str, str]] = []
    try:
        deadline = time.monotonic() + RECOVERY_S
        while len(fetched) < len(sent) and time.monotonic() < deadline:
            got = server.reports()
            fetched += got
            if not got:
                time.sleep(0.1)
        time.sleep(0.5)
        fetched += server.reports()
    finally:
        server.stop()
    by_id = Counter(r[2] for r in fetched)
    assert set(by_id) == sent and max(by_id.values()) == 1, (len(by_id), len(sent))
    with database(directory) as db:
        assert db.execute(
            "SELECT count(*) FROM messages WHERE state IN ('queued', 'sent')"
        ).fetchone() == (0,)
        balance, ledger_sum = db.execute(
            "SELECT balance, (SELECT sum(delta) FROM ledger) FROM accounts WHERE uid = ?", (UID,)
        ).fetchone()
        refunds = db.execute(
            "SELECT count(*), count(DISTINCT note) FROM ledger WHERE kind = 'refund'"
        ).fetchone()
    assert balance == ledger_sum == BALANCE - len(sent) + len(sent) * 3 // 20
    assert refunds == (len(sent) * 3 // 20,) * 2
