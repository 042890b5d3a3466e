"""Two processes' writers on one SQLite file (store/engine._take_write_lock):
the second waits for the first's lock in short naps and then writes; it is
never refused while the lock is only held for a while."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from hongyan.store.engine import create_sqlite_writer_engine


def test_a_writer_waits_for_anothers_lock_then_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = create_sqlite_writer_engine(url), create_sqlite_writer_engine(url)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    # Separate engines, separate connections: as an API process and a worker.
    with second.connect() as probe:
        assert probe.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
    holding, wrote = threading.Event(), threading.Event()
    # Told when the second writer's BEGIN IMMEDIATE finds the lock taken.
    refused_once = threading.Event()
    event.listen(second, "handle_error", lambda _context: refused_once.set())
    errors: list[BaseException] = []

    def hold() -> None:
        with first.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('first')"))
            holding.set()
            # Held until the other writer has found it taken: it must wait, not fail.
            refused_once.wait(timeout=60)

    def write() -> None:
        try:
            holding.wait(timeout=60)
            with second.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES ('second')"))
            wrote.set()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hold), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert refused_once.is_set(), "the lock was never contended: the test proved nothing"
    assert not errors and wrote.is_set()
    with first.connect() as conn:
        assert [w for (w,) in conn.execute(text("SELECT who FROM t ORDER BY rowid"))] == [
            "first",
            "second",
        ]
    first.dispose()
    second.dispose()
