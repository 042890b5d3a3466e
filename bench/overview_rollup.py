"""The console overview on an account with 1,000,000 messages, with and without
the rollup (store/message_stats.py).

    .venv/bin/python bench/overview_rollup.py [--messages 1000000] [--views 200]

Builds a SQLite database at migration 0010, writes the messages of 30 days
straight into it (90 % delivered, the rest UNDELIV, EXPIRED, MK:0001,
112 and waiting), upgrades to head (migration 0013 backfills the rollup:
its time is printed), then times `CustomerService.overview` for each chart
range, and, for comparison, the same month's figures counted over
`messages` as a page would without the rollup. One figure a line.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from hongyan.config import load_settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.gates import Gatekeeper
from hongyan.core.overview import ChartRange
from hongyan.core.service import CustomerService
from hongyan.store import migrate
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

DAY = 86_400_000
STATUSES = ["100"] * 90 + ["UNDELIV"] * 4 + ["EXPIRED"] * 2 + ["MK:0001", "112", "0", "0"]


def fill(path: Path, account_id: int, count: int, now: int) -> None:
    db = sqlite3.connect(path)
    rng = random.Random(7)
    per_submission = 1000
    with db:
        for first in range(0, count, per_submission):
            created = now - rng.randrange(30 * DAY)
            sid = db.execute(
                "INSERT INTO submissions (account_id, content, mid, source, parts, created_at, "
                "due_at) VALUES (?, 'bench', '', '1', 1, ?, ?)",
                (account_id, created, created),
            ).lastrowid
            rows = []
            for n in range(first, min(count, first + per_submission)):
                status = rng.choice(STATUSES)
                state = {"100": "delivered", "0": "sent"}.get(status, "failed")
                charged = 0 if status == "112" else 1
                mobile = f"139{n:08d}"
                done = None if state == "sent" else created + 5000
                rows.append(
                    (sid, account_id, mobile, mobile, 1, charged, state, status, created, done)
                )
            db.executemany(
                "INSERT INTO messages (submission_id, account_id, mobile, mobileid, parts, "
                "charged, state, status, created_at, due_at, done_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r[:9], r[8], r[9]) for r in rows],
            )
    db.close()


def counted_without_rollup(path: Path, account_id: int, since: int) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "SELECT SUM(charged), SUM(state = 'delivered'), SUM(state = 'failed') FROM messages "
        "WHERE account_id = ? AND created_at >= ?",
        (account_id, since),
    ).fetchall()
    db.execute(
        "SELECT status, COUNT(*) FROM messages WHERE account_id = ? AND created_at >= ? "
        "AND state = 'failed' GROUP BY status",
        (account_id, since),
    ).fetchall()
    db.close()


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        settings = load_settings(
            None,
            var_dir=Path(tmp) / "var",
            secret="bench",
            database_url=url,
            run_dispatcher=False,
            push={"run": False},
        )
        await migrate.upgrade(url, "0010")
        db = Database(settings)
        await db.start()
        await Operator(settings, db, actor=Actor.cli()).create_account(
            "bench", "bench-password", 10**9
        )
        await db.close()
        now = now_ms()
        fill(path, 1, args.messages, now)
        started = time.perf_counter()
        await migrate.upgrade(url)
        print(f"backfill_0013_s {time.perf_counter() - started:.2f}")

        db = Database(settings)
        await db.start()
        gates = Gatekeeper(settings, db)
        await gates.refresh()
        service = CustomerService(settings, db, gates)
        account = await gates.account("bench")
        assert account is not None
        for chart_range in ChartRange:
            times = []
            for _ in range(args.views):
                t = time.perf_counter()
                await service.overview(account, chart_range)
                times.append((time.perf_counter() - t) * 1000)
            name = f"overview_{chart_range.value}"
            print(f"{name}_p50_ms {statistics.median(times):.2f}")
            print(f"{name}_p95_ms {p(times, 0.95):.2f}")
        await db.close()

        times = []
        for _ in range(5):
            t = time.perf_counter()
            counted_without_rollup(path, 1, now - 30 * DAY)
            times.append((time.perf_counter() - t) * 1000)
        print(f"month_counted_over_messages_p50_ms {statistics.median(times):.0f}")


if __name__ == "__main__":
    asyncio.run(main())
