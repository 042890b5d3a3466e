"""Two processes' writers on one SQLite file: the second waits for the first's
lock in short naps and then writes, never refused while the lock is only held
for a while (store/engine._take_write_lock); and the group-commit writers take
turns before that, customers' first (store/engine.WriterTurn)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from hongyan.store.engine import WriterTurn, create_sqlite_writer_engine
from tests import waiting


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


def test_writers_take_turns_and_background_work_waits_for_customers(tmp_path: Path) -> None:
    """WriterTurn: separate instances are separate open files, as separate processes' are."""
    database = tmp_path / "shared.db"
    customer, other_customer = WriterTurn(database), WriterTurn(database)
    background = WriterTurn(database, background=True)
    order: list[str] = []
    background_waits = threading.Event()

    def run(turn: WriterTurn, name: str, ready: threading.Event | None = None) -> None:
        if ready is not None:
            ready.set()
        with turn:
            order.append(name)

    # A customer write holds its turn; another customer queues behind it.
    with customer:
        queued = threading.Event()
        second = threading.Thread(target=run, args=(other_customer, "customer 2", queued))
        second.start()
        queued.wait(timeout=60)
        # The queued customer has its shared claim on "-customers" once it blocks
        # on the turn: the background writer must now wait for it.
        assert waiting_on(tmp_path / "shared.db-writer")
        third = threading.Thread(target=run, args=(background, "background", background_waits))
        third.start()
        background_waits.wait(timeout=60)
        # It waits for no customer to be waiting, before it even queues for the turn.
        assert waiting_on(tmp_path / "shared.db-customers")
        order.append("customer 1")
    second.join(timeout=60)
    third.join(timeout=60)
    assert order == ["customer 1", "customer 2", "background"]
    for turn in (customer, other_customer, background):
        turn.close()


def waiting_on(path: Path) -> bool:
    """Until some process of ours blocks on a flock of this file (Linux /proc/locks)."""
    inode = path.stat().st_ino

    def blocked() -> bool:
        with open("/proc/locks") as locks:
            return any("->" in line and f":{inode} " in line for line in locks)

    waiting.until(blocked, f"a writer blocked on {path.name}")
    return True
