"""Two processes' writers on one SQLite file: the second waits for the first's
lock in short naps and then writes, never refused while the lock is only held
for a while (store/engine._take_write_lock); and the group-commit writers take
turns before that, customers' first (store/engine.WriterTurn)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from hongyan.store import engine
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


def test_writers_take_turns_and_background_work_waits_for_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WriterTurn: separate instances are separate open files, as separate processes' are."""
    database = tmp_path / "shared.db"
    customer, other_customer = WriterTurn(database), WriterTurn(database)
    background = WriterTurn(database, background=True, customers_first_s=waiting.WAIT_S)
    order: list[str] = []
    # Told when the background writer found a customer write waiting and stood back.
    stood_back = threading.Event()
    nap = time.sleep

    def noted_nap(seconds: float) -> None:
        if threading.current_thread().name == "background":
            stood_back.set()
        nap(seconds)

    monkeypatch.setattr(engine.time, "sleep", noted_nap)

    def run(turn: WriterTurn, name: str) -> None:
        with turn:
            order.append(name)

    # A customer write holds its turn; another customer queues behind it.
    with customer:
        second = threading.Thread(target=run, args=(other_customer, "customer 2"))
        second.start()
        waiting_on(database.with_name("shared.db-writer"))
        third = threading.Thread(target=run, args=(background, "background"), name="background")
        third.start()
        # It does not even queue for the turn while a customer write waits.
        assert stood_back.wait(timeout=waiting.WAIT_S)
        order.append("customer 1")
    second.join(timeout=waiting.WAIT_S)
    third.join(timeout=waiting.WAIT_S)
    assert order == ["customer 1", "customer 2", "background"]
    for turn in (customer, other_customer, background):
        turn.close()


def test_background_work_goes_on_while_customers_keep_the_lock_busy(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    customer = WriterTurn(database)
    background = WriterTurn(database, background=True, customers_first_s=0.01)
    entered = threading.Event()

    def run() -> None:
        with background:
            entered.set()

    with customer:  # customers' writes, as if without end
        worker = threading.Thread(target=run)
        worker.start()
        # After its bound it queues for the turn anyway, and gets the next one.
        waiting_on(database.with_name("shared.db-writer"))
        assert not entered.is_set()
    assert entered.wait(timeout=waiting.WAIT_S)
    worker.join(timeout=waiting.WAIT_S)
    customer.close()
    background.close()


def waiting_on(path: Path) -> None:
    """Until some thread blocks on a flock of this file (Linux /proc/locks)."""
    inode = path.stat().st_ino

    def blocked() -> bool:
        with open("/proc/locks") as locks:
            return any("->" in line and f":{inode} " in line for line in locks)

    waiting.until(blocked, f"a writer blocked on {path.name}")
