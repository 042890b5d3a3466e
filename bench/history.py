"""Fill a PostgreSQL database with history: delivered messages and their reports.

    .venv/bin/python bench/history.py --rows 10000000 [--pg-url URL]

Drops and creates the database (default hongyan_bench on 127.0.0.1:5432),
migrates it, and adds an account `history` whose `--rows` messages (in
submissions of 2,000) were accepted over the last 180 days, each delivered,
with one part and one report handed out: what a platform holds after months
of traffic. Their ids carry their days, as PostgreSQL's own would, so they
land in the weekly partitions of those days (core/partitions.py), which the
script makes back to the first day. The rows go in by INSERT ... SELECT from
generate_series, a million at a time, with every index of the schema in
place. Then run the accept bench against it with the same URL:

    HONGYAN_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/hongyan_bench \\
        .venv/bin/python bench/api_accept.py --driver wrk --concurrency 1 64 --delivery off

Prints the rows, the time the fill took and the database's size, a figure a line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from hongyan.core.partitions import DAY_MS, DAY_SHIFT, Period
from hongyan.store import partitions
from hongyan.store.engine import create_engine
from pgdb import fresh

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/hongyan_bench"
STEP = 1_000_000
PER_SUBMISSION = 2000
DAYS = 180
SPAN_DAYS = 7


async def fill(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        account = await conn.fetchval("SELECT id FROM accounts WHERE uid = 'history'")
        now = int(time.time() * 1000)
        start = now - DAYS * DAY_MS
        span = DAYS * DAY_MS
        submissions = -(-rows // PER_SUBMISSION)
        await conn.execute(
            "INSERT INTO submissions (id, account_id, content, source, parts, created_at, due_at)"
            " SELECT s, $1, 'history', '', 1, $2 + s::bigint * $3 / $4, $2 + s::bigint * $3 / $4"
            " FROM generate_series(1, $4) AS s",
            account,
            start,
            span,
            submissions,
        )
        for first in range(1, rows + 1, STEP):
            last = min(first + STEP - 1, rows)
            began = time.monotonic()
            at = f"({start} + (m::bigint * {span} / {rows}))"
            # The day's first id, and m in the low bits (below the sequence's
            # next value, set after): what hongyan_day_id would have made.
            day_id = f"(({at} / {DAY_MS}) << {DAY_SHIFT} | m)"
            await conn.execute(
                "INSERT INTO messages (id, submission_id, account_id, mobile, mobileid, parts,"
                " charged, state, status, created_at, due_at, done_at, attempts, channel)"
                f" SELECT {day_id}, (m - 1) / {PER_SUBMISSION} + 1, {account},"
                " '139' || lpad((m % 100000000)::text, 8, '0'), '', 1, 1, 'delivered', '100',"
                f" {at}, {at}, {at} + 3000, 1, 'simulator'"
                f" FROM generate_series({first}, {last}) AS m"
            )
            await conn.execute(
                "INSERT INTO message_parts (message_id, seq, channel, upstream_id, state,"
                " status, submitted_at, done_at)"
                f" SELECT {day_id}, 1, 'simulator', md5(m::text), 'delivered', 'DELIVRD',"
                f" {at}, {at} + 3000 FROM generate_series({first}, {last}) AS m"
            )
            await conn.execute(
                "INSERT INTO reports (id, account_id, message_id, mobile, mobileid, status,"
                " created_at, fetched_at)"
                f" SELECT {day_id}, {account}, {day_id},"
                " '139' || lpad((m % 100000000)::text, 8, '0'), '',"
                f" '100', {at} + 3000, {at} + 10000 FROM generate_series({first}, {last}) AS m"
            )
            print(f"  rows {last:,} ({time.monotonic() - began:.0f} s)", file=sys.stderr)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('submissions', 'id'),"
            " (SELECT max(id) FROM submissions))"
        )
        for table in ("messages", "reports"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def partitions_back(url: str, days: int) -> None:
    """Weekly partitions from `days` ago up to the first the migration made."""
    engine = create_engine(url, for_writes=True)
    try:
        async with engine.begin() as conn:
            made = await partitions.partitions(conn, "messages")
            first = min(p.period.start_day for p in made if p.period.start_day > 0)
            day = (first - days) // SPAN_DAYS * SPAN_DAYS
            while day < first:
                end = min(day + SPAN_DAYS, first)
                await partitions.create_period(conn, Period(day, end))
                day = end
    finally:
        await engine.dispose()


async def size(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(
            await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        )
    finally:
        await conn.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="messages of history")
    p.add_argument("--pg-url", default=os.environ.get("HONGYAN_BENCH_PG_URL", PG_URL))
    args = p.parse_args()
    dsn = args.pg_url.replace("+asyncpg", "")
    asyncio.run(fresh(dsn))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env["HONGYAN_DATABASE_URL"] = args.pg_url
    with tempfile.TemporaryDirectory() as directory:
        create = ("account", "create", "history", "--password", "history-password")
        for argv in (("migrate",), create):
            subprocess.run(
                [sys.executable, "-m", "hongyan", *argv],
                cwd=Path(directory),
                env=env,
                check=True,
                capture_output=True,
            )
    began = time.monotonic()
    asyncio.run(partitions_back(args.pg_url, DAYS + 1))
    asyncio.run(fill(dsn, args.rows))
    print(f"history_rows {args.rows}")
    print(f"fill_s {time.monotonic() - began:.0f}")
    print(f"database_size {asyncio.run(size(dsn))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
