"""The store behind PgBouncer in transaction mode (issue 16, item 8), a real
PgBouncer from Debian's package: with `pg_statement_cache_size = 0` the
migrations, sends and reads of three nodes sharing two server connections all
work; with the default cache, statements kept on a server connection meet
another client's, which is why the setting exists."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.service import SendForm
from hongyan.errors import StoreError
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade
from hongyan.store.schema import messages
from tests.conftest import _reset_postgres, make_settings, service_missing
from tests.integration.test_serve import free_port
from tests.store.test_store import sender
from tests.waiting import until

PGBOUNCER = "/usr/sbin/pgbouncer"
NODES = 3
SENDS = 40  # a node


@pytest.fixture
def bouncer(postgres_url: str) -> Iterator[str]:
    """The test database through PgBouncer (transaction pooling, two server
    connections), as a postgresql+asyncpg URL."""
    if not os.path.exists(PGBOUNCER):
        service_missing("PgBouncer is not installed (Debian package pgbouncer)")
    asyncio.run(_reset_postgres(postgres_url))  # unmigrated: migrated through PgBouncer
    target = make_url(postgres_url)
    port = free_port()
    # Readable by the user PgBouncer runs as: it refuses to run as root.
    home = Path(tempfile.mkdtemp(prefix="hongyan-pgbouncer-"))
    home.chmod(0o755)
    (home / "users.txt").write_text(f'"{target.username}" ""\n')
    names = f"dbname={target.database} user={target.username}"
    (home / "pgbouncer.ini").write_text(
        f"""
[databases]
{target.database} = host={target.host} port={target.port or 5432} {names}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
"""
    )
    for name in ("users.txt", "pgbouncer.ini"):
        (home / name).chmod(0o644)
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    log = home / "pgbouncer.log"  # its stderr, written through the fd we open
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PGBOUNCER, *user, str(home / "pgbouncer.ini")], stdout=out, stderr=out
        )
    try:

        def listening() -> bool:
            assert proc.poll() is None, log.read_text()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        until(listening, "PgBouncer to listen")
        yield str(target.set(host="127.0.0.1", port=port))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


async def run_nodes(settings: Settings) -> int:
    """Three nodes sending at once, each its own pool; the messages stored."""
    await upgrade(settings.database_url, statement_cache_size=settings.pg_statement_cache_size)
    nodes = [Database(settings) for _ in range(NODES)]
    for db in nodes:
        await db.start()
    try:
        operator = Operator(settings, nodes[0], actor=Actor.cli())
        senders = [await sender(settings, db, operator, balance=1000) for db in nodes]

        async def node(i: int) -> None:
            service, account, _ = senders[i]
            for n in range(SENDS):
                await service.send(account, SendForm(f"1390000{i}{n:03d}", "hi"), post=False)
                async with nodes[i].read() as conn:  # a read between the writes
                    await conn.execute(select(func.count()).select_from(messages))

        await asyncio.gather(*(node(i) for i in range(NODES)))
        async with nodes[0].read() as conn:
            return int((await conn.execute(select(func.count()).select_from(messages))).scalar())
    finally:
        for db in nodes:
            await db.close()


def test_many_nodes_through_pgbouncer_with_no_statement_cache(bouncer: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=bouncer, pg_statement_cache_size=0)
    assert asyncio.run(run_nodes(settings)) == NODES * SENDS


def test_the_default_statement_cache_does_not_survive_pgbouncer(
    bouncer: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the setting is for: without it, the same load fails."""
    settings = make_settings(tmp_path, database_url=bouncer)
    with pytest.raises((StoreError, DBAPIError)) as raised:
        asyncio.run(run_nodes(settings))
    # The cause: in the error's chain (a read, the migrations), or logged (a
    # group commit answers its callers with the store's own error).
    causes = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    error: BaseException | None = raised.value
    while error is not None and len(causes) < 100:
        causes.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("prepared statement" in cause for cause in causes), causes
