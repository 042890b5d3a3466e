"""The ISMG simulator's outbox: status reports and replies waiting, in memory,
for a connection of their SP, offered over the one with the most free window,
and offered again `RETRY_S` later until a DELIVER_RESP says Result 0, as a
real ISMG redelivers (CMPP 3.0 §7.4.5: the SP answers every DELIVER).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from hongyan.channels.cmpp import ismg_pdus
from hongyan.channels.cmpp.pdu import Deliver, DeliverResp, StatusReport
from hongyan.channels.cmpp.wire import Session

RETRY_S = 0.5


@dataclass(slots=True)
class Waiting:
    sp_id: str
    deliver: Deliver  # in its 3.0 form; ismg_pdus.fitted makes each offer
    kind: str  # "receipt" or "mo"
    report: StatusReport | None = None
    about: int = 0  # a receipt's: the Msg_Id of its SUBMIT


class Outbox:
    def __init__(
        self,
        connections: Callable[[], Iterable[Session]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._connections = connections
        self._spawn = spawn
        self._queue: list[tuple[float, int, Waiting]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        # (sp_id, "receipt_acked" | "mo_acked" | "receipt_refused" | "mo_refused")
        self.tally: Counter[tuple[str, str]] = Counter()

    def put(self, item: Waiting, delay_s: float = 0.0) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._order), item))
        self._wake.set()

    def withdraw(self, about: int) -> None:
        """Take back the status reports of a cancelled SUBMIT."""
        self._queue = [e for e in self._queue if e[2].about != about]
        heapq.heapify(self._queue)

    def pending(self, kind: str, sp_id: str | None = None) -> int:
        return sum(1 for *_, w in self._queue if w.kind == kind and sp_id in (None, w.sp_id))

    def count(self, what: str) -> int:
        """Over every SP: "receipt_acked", "mo_acked", "receipt_refused"..."""
        return sum(n for (_, kind), n in self.tally.items() if kind == what)

    def wake(self) -> None:
        """A connection came up: look again at what waits for one."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = time.monotonic()
            waiting: list[tuple[float, int, Waiting]] = []
            while self._queue and self._queue[0][0] <= now:
                entry = heapq.heappop(self._queue)
                session = self._carrier_for(entry[2].sp_id)
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

    def _carrier_for(self, sp_id: str) -> Session | None:
        """The connection of this SP with the most free window, if one has room."""
        best: Session | None = None
        best_free = 0
        for session in self._connections():
            if session.system_id != sp_id or not session.connected or session.hung:
                continue
            free = session.window - session.in_flight
            if free > best_free:
                best, best_free = session, free
        return best

    async def _offer(self, session: Session, item: Waiting) -> None:
        pdu = ismg_pdus.fitted(item.deliver, item.report, session.wire.version)
        try:
            answer = await session.request(pdu)
            ok = isinstance(answer, DeliverResp) and answer.result == 0
        except Exception:  # timed out, connection lost: offered again all the same
            ok = False
        self.tally[item.sp_id, f"{item.kind}_{'acked' if ok else 'refused'}"] += 1
        if not ok:
            self.put(item, RETRY_S)
