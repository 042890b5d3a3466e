"""Where a message's write-lock time goes: each step's store handler, alone.

    .venv/bin/python bench/store_path.py [--messages 20000] [--batch 1 32 256] [--rounds 3]

A message takes five transactions on the SQLite writer lock between `/mt/`
and its report: accept (`store.messages.accept`), claim
(`store.delivery.claim`), the submit outcome (`record_outcomes`) and the
receipt with the final state and report (`record_receipts`). Here each
handler runs directly on a group-commit writer's own kind of connection
(`create_sqlite_writer_engine`: WAL, `synchronous=FULL`, BEGIN IMMEDIATE) in
one process and one thread, nothing else running, so that its cost is not
mixed with HTTP, the event loop, the other process or the GIL. For each
step and batch size it prints the microseconds a message spends holding the
lock inside the statements and inside the commit, the median of `--rounds`.

The database is made by `hongyan` itself (`account create` migrates it), in
a temporary directory; `--history N` first accepts and delivers N messages,
so that the tables and indexes are not empty.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from hongyan.core.models import (
    Account,
    MessageOutcome,
    PartOutcome,
    Receipt,
    Recipient,
    Submission,
)
from hongyan.store import delivery, messages
from hongyan.store.accounts import load_account
from hongyan.store.delivery import ClaimRequest
from hongyan.store.engine import create_engine, create_sqlite_writer_engine, now_ms
from report import Figures, note

UID = "bench"
LEASE_MS = 60_000
STEPS = ("accept", "claim", "outcome", "receipt")


class WritePath:
    """One database and its writer connection; each step applied to `batch` messages."""

    def __init__(self, engine: Engine, account: Account) -> None:
        self.engine = engine
        self.conn = engine.connect()
        self.account = account
        self.mobile = 13_900_000_000
        self.upstream = 0

    def timed(self, handler: Callable[[Connection, list[Any]], Sequence[Any]], items: list[Any]):
        """(result, statements s, commit s) of one transaction applying `handler`."""
        started = time.perf_counter()
        transaction = self.conn.begin()
        result = handler(self.conn, items)
        statements = time.perf_counter()
        transaction.commit()
        done = time.perf_counter()
        return result, statements - started, done - statements

    def one_message(self, batch: int) -> dict[str, tuple[float, float]]:
        now = now_ms()
        submissions = []
        for _ in range(batch):
            self.mobile += 1
            number = str(self.mobile)
            submissions.append(
                Submission(
                    self.account,
                    "bench text",
                    1,
                    "",
                    "",
                    (Recipient(number, number, ""),),
                    now,
                    now,
                )
            )
        costs: dict[str, tuple[float, float]] = {}
        _, s, c = self.timed(messages.accept, submissions)
        costs["accept"] = (s, c)
        (claimed,), s, c = self.timed(delivery.claim, [ClaimRequest(now_ms(), LEASE_MS, batch)])
        costs["claim"] = (s, c)
        outcomes = []
        receipts = []
        for message in claimed:
            self.upstream += 1
            upstream_id = f"u{self.upstream}"
            outcomes.append(
                MessageOutcome(
                    message.id,
                    "sim",
                    now_ms(),
                    [PartOutcome(1, upstream_id)],
                    now,
                    now + LEASE_MS,
                    attempt=message.attempts,
                )
            )
            receipts.append(("sim", Receipt(upstream_id, "100", now_ms())))
        _, s, c = self.timed(delivery.record_outcomes, outcomes)
        costs["outcome"] = (s, c)
        _, s, c = self.timed(delivery.record_receipts, receipts)
        costs["receipt"] = (s, c)
        if len(claimed) != batch:
            raise RuntimeError(f"claimed {len(claimed)} of {batch}")
        return costs


def measure(path: WritePath, batch: int, messages_count: int) -> dict[str, tuple[float, float]]:
    """Seconds per message (statements, commit) for each step, over `messages_count`."""
    totals = {step: [0.0, 0.0] for step in STEPS}
    rounds = max(1, messages_count // batch)
    for _ in range(rounds):
        for step, (s, c) in path.one_message(batch).items():
            totals[step][0] += s
            totals[step][1] += c
    sent = rounds * batch
    return {step: (s / sent, c / sent) for step, (s, c) in totals.items()}


def make_database(directory: Path, hongyan: str) -> str:
    env = {**os.environ, "HONGYAN_VAR_DIR": str(directory / "var")}
    subprocess.run(
        [
            hongyan,
            "account",
            "create",
            UID,
            "--password",
            "bench-password-1",
            "--balance",
            "10000000000",
        ],
        cwd=directory,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [hongyan, "account", "limits", UID, "--rate", "off", "--per-number", "off"],
        cwd=directory,
        env=env,
        check=True,
        capture_output=True,
    )
    return f"sqlite:///{directory / 'var' / 'hongyan.db'}"


async def read_account(url: str) -> Account:
    engine = create_engine(url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    try:
        async with engine.connect() as conn:
            account = await load_account(conn, UID)
    finally:
        await engine.dispose()
    assert account is not None
    return account


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=20_000, help="messages per batch size, at most")
    p.add_argument(
        "--batch", type=int, nargs="+", default=[1, 32, 256], help="messages a transaction"
    )
    p.add_argument("--rounds", type=int, default=3, help="repetitions; the median is printed")
    p.add_argument(
        "--history", type=int, default=50_000, help="messages delivered before measuring"
    )
    p.add_argument("--hongyan", help="the hongyan command (None: the one beside this Python)")
    args = p.parse_args()
    hongyan = args.hongyan or str(Path(sys.executable).parent / "hongyan")
    if not Path(hongyan).exists():
        hongyan = shutil.which("hongyan") or sys.exit("cannot find the hongyan command")
    directory = Path(tempfile.mkdtemp(prefix="hongyan-store-path-"))
    try:
        url = make_database(directory, hongyan)
        account = asyncio.run(read_account(url))
        engine = create_sqlite_writer_engine(url)
        path = WritePath(engine, account)
        if args.history:
            note(f"# delivering {args.history} messages of history first")
            measure(path, 256, args.history)
        figures = Figures("store_")
        for batch in args.batch:
            runs = [measure(path, batch, args.messages) for _ in range(args.rounds)]
            total = 0.0
            for step in STEPS:
                statements = statistics.median(r[step][0] for r in runs) * 1e6
                commit = statistics.median(r[step][1] for r in runs) * 1e6
                figures.add(f"b{batch}_{step}_statements_us", round(statements, 1))
                figures.add(f"b{batch}_{step}_commit_us", round(commit, 1))
                total += statements + commit
            figures.add(f"b{batch}_total_us", round(total, 1))
        path.conn.close()
        engine.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
