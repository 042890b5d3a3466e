"""The carrier simulators' outbox: receipts and replies waiting, in memory,
for a connection of their account, offered over the one with the most free
window, and offered again `RETRY_S` later until the client answers them
well, as a real SMSC or ISMG redelivers. Used by `hongyan smsc` in both
protocols (smpp/smsc.py, cmpp/ismg.py); the protocol says how to offer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Generic, Protocol, TypeVar

from hongyan.channels.session import Session

RETRY_S = 0.5


class Item(Protocol):
    @property
    def account(self) -> str: ...  # SMPP system_id, CMPP sp_id

    @property
    def kind(self) -> str: ...  # "receipt" or "mo"


T = TypeVar("T", bound=Item)


class Outbox(Generic[T]):
    def __init__(
        self,
        sessions: Callable[[], Iterable[Session]],
        offer: Callable[[Session, T], Awaitable[bool]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        """`sessions`: the connections that may take items; `offer`: send one
        over a session, True once the client took it."""
        self._sessions = sessions
        self._offer_one = offer
        self._spawn = spawn
        self._queue: list[tuple[float, int, T]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        # (account, "receipt_acked" | "mo_acked" | "receipt_refused" | "mo_refused")
        self.tally: Counter[tuple[str, str]] = Counter()

    def put(self, item: T, delay_s: float = 0.0) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._order), item))
        self._wake.set()

    def withdraw(self, unwanted: Callable[[T], bool]) -> None:
        """Take back the items `unwanted` says (a cancelled message's receipts)."""
        self._queue = [e for e in self._queue if not unwanted(e[2])]
        heapq.heapify(self._queue)

    def pending(self, kind: str, account: str | None = None) -> int:
        return sum(1 for *_, w in self._queue if w.kind == kind and account in (None, w.account))

    def count(self, what: str) -> int:
        """Over every account: "receipt_acked", "mo_acked", "receipt_refused"..."""
        return sum(n for (_, kind), n in self.tally.items() if kind == what)

    def wake(self) -> None:
        """A connection came up: look again at what waits for one."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = time.monotonic()
            waiting: list[tuple[float, int, T]] = []
            while self._queue and self._queue[0][0] <= now:
                entry = heapq.heappop(self._queue)
                session = self._carrier_for(entry[2].account)
                if session is None:
                    waiting.append(entry)
                    continue
                self._spawn(self._offer(session, entry[2]))
            for entry in waiting:
                heapq.heappush(self._queue, entry)
            timeout = RETRY_S
            if self._queue and not waiting:
                timeout = max(0.0, min(RETRY_S, self._queue[0][0] - time.monotonic()))
            # asyncio.timeout, not wait_for: 3.11's wait_for loses a cancellation
            # that comes as the event is set, and stop() would wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _carrier_for(self, account: str) -> Session | None:
        """The connection of this account with the most free window, if one has room."""
        best: Session | None = None
        best_free = 0
        for session in self._sessions():
            if session.system_id != account or not session.connected or session.hung:
                continue
            free = session.window - session.in_flight
            if free > best_free:
                best, best_free = session, free
        return best

    async def _offer(self, session: Session, item: T) -> None:
        try:
            ok = await self._offer_one(session, item)
        except Exception:  # timed out, connection lost: offered again all the same
            ok = False
        self.tally[item.account, f"{item.kind}_{'acked' if ok else 'refused'}"] += 1
        if not ok:
            self.put(item, RETRY_S)
