"""Two API nodes on PostgreSQL, one frozen with SIGSTOP in the middle of its
sends (issue 16, item 4): the other keeps accepting the same account's sends
while it is frozen, and afterwards the messages stored and the parts charged
are exactly those answered `100`.

The frozen node is kept busy with 500-number POSTs, so that a freeze most
often lands inside one of its transactions, holding the account's row; it is
frozen five times. Before each write transaction bounded itself
(`pg_idle_in_transaction_ms`), the other node's sends waited for the whole
freeze, or failed after `pg_lock_timeout_ms`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from hongyan.store.migrate import upgrade
from hongyan.store.schema import accounts, messages
from tests import waiting
from tests.conftest import _reset_postgres
from tests.integration.test_serve import SUCCESS, Serve, cli

UID, PASSWORD, BALANCE = "acme", "s3cret-pw", 10**9
PWD = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
FREEZES = 5
POST_NUMBERS = 500


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Serve, Serve]]:
    asyncio.run(_reset_postgres(postgres_url))
    asyncio.run(upgrade(postgres_url))
    (tmp_path / "hongyan.toml").write_text(f'database_url = "{postgres_url}"\n')
    for command in (
        ("account", "create", UID, "--password", PASSWORD, "--balance", str(BALANCE)),
        ("account", "limits", UID, "--rate", "off", "--per-number", "off"),
    ):
        done = cli(tmp_path, *command)
        assert done.returncode == 0, done.stderr
    frozen = Serve(tmp_path, "--role", "api")
    other = Serve(tmp_path, "--role", "api")
    yield frozen, other
    frozen.process.send_signal(signal.SIGCONT)
    frozen.stop()
    other.stop()


class Load:
    """500-number POSTs to one node, one after another, until stopped; what was accepted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers = 0
        self.accepted = 0
        self.refused: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        first = 13_500_000_000
        with httpx.Client(timeout=waiting.WAIT_S) as client:
            for n in range(2000):
                if self.stopping.is_set():
                    return
                numbers = range(first + n * POST_NUMBERS, first + (n + 1) * POST_NUMBERS)
                form = {"uid": UID, "pwd": PWD, "content": "x"}
                form["mobile"] = ",".join(str(m) for m in numbers)
                answer = client.post(f"{self.url}/mt/", data=form).content
                if answer.startswith(b"sms&stat=100&"):
                    self.accepted += POST_NUMBERS
                else:
                    self.refused.append(answer)
                self.answers += 1


def test_a_frozen_api_node_holds_up_no_other_nodes_sends(
    nodes: tuple[Serve, Serve], postgres_url: str
) -> None:
    frozen, other = nodes
    load = Load(frozen.url)
    sent_by_other = 0
    try:
        with httpx.Client(timeout=waiting.WAIT_S) as client:
            for freeze in range(FREEZES):
                seen = load.answers
                waiting.until(
                    lambda seen=seen: load.answers >= seen + 2, "the busy node's next answers"
                )
                frozen.process.send_signal(signal.SIGSTOP)
                try:
                    for _ in range(5):  # while it is frozen, one by one
                        mobile = f"1370000{freeze}{sent_by_other:03d}"
                        params = {"uid": UID, "pwd": PWD, "mobile": mobile, "content": "y"}
                        answer = client.get(f"{other.url}/mt/", params=params).content
                        assert answer == SUCCESS, (freeze, answer, faults(other))
                        sent_by_other += 1
                finally:
                    frozen.process.send_signal(signal.SIGCONT)
    finally:
        load.stopping.set()
        load.thread.join(timeout=waiting.WAIT_S)
    assert not load.thread.is_alive()
    # What was answered 100 is what is stored and charged; nothing else.
    stored, balance = asyncio.run(_stored(postgres_url))
    accepted = load.accepted + sent_by_other
    assert stored == accepted, (stored, accepted, load.refused[:3])
    assert balance == BALANCE - accepted


def faults(node: Serve) -> list[str]:
    """The last lines of the errors the node logged: why it answered what it did."""
    found = []
    for line in node.output().splitlines():
        if '"level": "error"' in line or '"level": "warning"' in line:
            entry = json.loads(line)
            found.append(f"{entry['msg']}: {entry.get('exc', '').strip().splitlines()[-3:]}")
    return found[-4:]


async def _stored(url: str) -> tuple[int, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
            balance = (
                await conn.execute(select(accounts.c.balance).where(accounts.c.uid == UID))
            ).scalar_one()
        return int(count), int(balance)
    finally:
        await engine.dispose()
