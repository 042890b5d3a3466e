"""Messages a second, counted where they happen, in memory.

Accepting (the API), submitting (the dispatcher) and making messages final
(receipts, refusals, expiry) add to the counter of their database; once a
second each process writes what it counted to the `throughput` table, one
row per second and process (core/throughput.py), so the API pays a dict
update per request and never a database write. Counts are keyed by the
second they happened in (wall clock), so a late flush still lands in the
right second.

Thread-safe: finals are counted on the SQLite writer thread.
"""

from __future__ import annotations

import threading
import time
from typing import Final

from sqlalchemy.engine import make_url

ACCEPTED: Final = 0
SUBMITTED: Final = 1
DELIVERED: Final = 2
FAILED: Final = 3
KINDS: Final = ("accepted", "submitted", "delivered", "failed")


class Counts:
    """One database's counts of this process, by second, until flushed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[int, list[int]] = {}

    def add(self, kind: int, n: int = 1, at_s: int | None = None) -> None:
        if n <= 0:
            return
        second = int(time.time()) if at_s is None else at_s
        with self._lock:
            row = self._seconds.get(second)
            if row is None:
                row = self._seconds[second] = [0, 0, 0, 0]
            row[kind] += n

    def take(self) -> dict[int, tuple[int, int, int, int]]:
        """Everything counted so far, by second; the counter starts empty again."""
        with self._lock:
            taken, self._seconds = self._seconds, {}
        return {second: (a, s, d, f) for second, (a, s, d, f) in taken.items()}

    def give_back(self, counted: dict[int, tuple[int, int, int, int]]) -> None:
        """Counts a failed flush took: added again, for the next flush."""
        for second, values in counted.items():
            for kind, n in enumerate(values):
                self.add(kind, n, second)


_lock = threading.Lock()
_by_database: dict[str, Counts] = {}


def counts_of(database: str | None) -> Counts:
    """The counter of a database (its file or name: every platform of a test
    process on one database shares it; one on another database does not)."""
    key = database or ""
    found = _by_database.get(key)
    if found is None:
        with _lock:
            found = _by_database.setdefault(key, Counts())
    return found


def counts_for_url(url: str) -> Counts:
    return counts_of(make_url(url).database)
