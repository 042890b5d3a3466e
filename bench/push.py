"""Push benchmark: items from the outbox to customers' servers on loopback.

    .venv/bin/python bench/push.py [--items 20000] [--accounts 20] [--timeout 120]

It makes a temporary SQLite platform, starts receivers as separate processes
(`python -m hongyan.testing`, on 127.0.0.1 and free ports), fills the outbox
with replies (GBK forms of the document's 6.2 table) and runs the platform's
own `Pusher` in this process until the outbox drains:

  * `healthy`: `--accounts` accounts push to a receiver that answers 200 at
    once; pushes/s is the items over the time from start to the last
    delivered one.
  * `hanging`: as many accounts again push to a second receiver that reads
    each request and never answers (default settings: 10 s timeout, breaker
    after 5 failures); pushes/s counts the healthy accounts' items only, so
    it shows whether the hanging server holds anyone else up.
  * `one_account`: all items of one account, which are pushed one request
    at a time to keep them in order: the rate a single busy customer gets.

Each phase is bounded by `--timeout` seconds; figures go to stdout, one a
line, notes to stderr. The pusher runs as in `hongyan serve`: on uvloop,
with the server's garbage-collector tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop
from sqlalchemy import Connection, func, insert, select

from hongyan.app import tune_gc
from hongyan.config import Settings, load_settings
from hongyan.core import credentials
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.states import OutboxKind
from hongyan.push.pusher import Pusher
from hongyan.store import push as outbox
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.migrate import upgrade
from hongyan.store.schema import push_outbox, replies
from report import TARGETS, Figures, note
from server_process import free_port, start_quietly

TARGETS.update({"healthy_pushes_per_s": (">=", 2000), "hanging_pushes_per_s": (">=", 2000)})
CONTENT = "您好，您的快递已到，请凭取件码 8848 领取。回复 TD 退订"


class Receiver:
    def __init__(self, mode: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hongyan.testing",
                "--port",
                str(self.port),
                "--mode",
                mode,
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "listening on ..."
        self.url = f"http://127.0.0.1:{self.port}/push"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def fill(conn: Connection, account_ids: list[int], items: int) -> None:
    """`items` replies spread over the accounts, each queued to push."""
    now = now_ms()
    rows = [
        {
            "account_id": account_ids[i % len(account_ids)],
            "mobile": f"139{i:08d}",
            "content": CONTENT,
            "gateway": "10690123",
            "channel": "sim",
            "received_at": now,
            "fetched_at": now,
        }
        for i in range(items)
    ]
    ids = conn.execute(
        insert(replies).returning(replies.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    pairs = [(row["account_id"], reply_id) for row, reply_id in zip(rows, ids, strict=True)]
    outbox.enqueue(conn, OutboxKind.REPLY, pairs, now)


def waiting(conn: Connection, account_ids: list[int]) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(push_outbox)
            .where(push_outbox.c.account_id.in_(account_ids))
        ).scalar_one()
    )


async def accounts(op: Operator, prefix: str, count: int, url: str) -> list[int]:
    ids = []
    for n in range(count):
        uid = f"{prefix}{n}"
        summary = await op.create_account(uid, "bench-password")
        await op.set_push(uid, replies=url)
        ids.append(summary.id)
    return ids


async def phase(
    settings: Settings,
    name: str,
    groups: list[tuple[str, str]],
    args: argparse.Namespace,
    accounts_a_group: int | None = None,
) -> float:
    """Push `args.items` items per group; pushes/s of the first group's accounts."""
    db = Database(settings)
    await db.start()
    op = Operator(settings, db, actor=Actor.cli())
    try:
        per_group = []
        for prefix, url in groups:
            ids = await accounts(op, f"{name}-{prefix}-", accounts_a_group or args.accounts, url)
            async with db.transaction() as conn:
                await conn.run_sync(lambda sync, ids=ids: fill(sync, ids, args.items))
            per_group.append(ids)
        measured = per_group[0]
        pusher = Pusher(settings, db)
        started = time.perf_counter()
        await pusher.start()
        left = args.items
        deadline = started + args.timeout
        while left and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            left = await db.read_sync(lambda conn: waiting(conn, measured))
        elapsed = time.perf_counter() - started
        await pusher.stop()
        if left:
            note(f"# {name}: {left} items still waiting after {args.timeout} s")
            return 0.0
        return args.items / elapsed
    finally:
        await db.close()


async def main(args: argparse.Namespace) -> None:
    credentials._hasher = credentials.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    start_quietly(args.wait_idle)
    healthy, hanging = Receiver("ok"), Receiver("hang")
    figures = Figures("")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                None,
                var_dir=Path(tmp),
                secret="bench",
                push={"allowed_networks": ["127.0.0.1/32"]},
            )
            await upgrade(settings.database_url)
            print(f"# {args.items} items over {args.accounts} accounts a receiver", flush=True)
            figures.add(
                "healthy_pushes_per_s", await phase(settings, "healthy", [("a", healthy.url)], args)
            )
            figures.add(
                "hanging_pushes_per_s",
                await phase(settings, "hanging", [("a", healthy.url), ("h", hanging.url)], args),
            )
            figures.add(
                "one_account_pushes_per_s",
                await phase(settings, "one", [("a", healthy.url)], args, accounts_a_group=1),
            )
            figures.note_targets("healthy")
            figures.note_targets("hanging")
    finally:
        healthy.stop()
        hanging.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="items a receiver")
    parser.add_argument("--accounts", type=int, default=20, help="accounts a receiver")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--wait-idle", type=float, default=30.0)
    # As in `hongyan serve`: uvloop (uvicorn's loop) and the server's collector tuning.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        tune_gc()
        runner.run(main(parser.parse_args()))
