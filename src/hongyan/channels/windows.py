"""Window slots across the binds of one channel: which bind a submit goes over.

SMPP 3.4 §2.10 lets an ESME have several requests outstanding on a
connection, up to a window the parties agree on. When the carrier is slow to
answer, a bind carries at most `window` submits per response time, and more
binds add throughput only if every one of them is kept full. So a submit
takes a slot here before it goes:

* on the bound connection with the most room in its window, counting every
  slot handed out (submits on the wire, and those given a slot that have not
  been written yet), not only what is on the wire;
* ties go in turn, so equal binds share the load evenly;
* when every window is full, submits wait in one line for the whole channel,
  first come first served, and a slot that frees on any bind goes to the
  submit at the head of the line: no submit waits behind a full bind while
  another has room.

Issue 11 item 12 was the opposite of each point: only requests on the wire
were compared, ties went to the first bind, and a submit waited on the window
of the bind it had picked, so once the windows filled nearly every submit
piled onto bind 1 (4 binds gave 1.4 times one bind's rate).

The session keeps its own window (session.py) as the hard bound: enquire_link
and unbind take a slot there too without being counted here. There is at most
one probe, on a quiet link, so at worst a submit waits briefly on its session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class Link(Protocol):
    """One bind as seen from here: whether it can take submits, and the slots
    of its window handed out and not yet given back."""

    held: int

    @property
    def ready(self) -> bool: ...


L = TypeVar("L", bound=Link)


class Windows(Generic[L]):
    def __init__(self, links: Sequence[L], window: int) -> None:
        self._links = list(links)
        self._window = window
        self._turn = 0  # where the next search for room starts: ties go in turn
        self._line: deque[asyncio.Future[L | None]] = deque()

    async def take(self) -> L | None:
        """A slot on the ready link with the most room, counted for it; waits in
        line while every window is full. None when no link is ready."""
        if not self._line:
            link = self._roomiest()
            if link is not None:
                link.held += 1
                return link
        if not any(link.ready for link in self._links):
            return None
        future: asyncio.Future[L | None] = asyncio.get_running_loop().create_future()
        self._line.append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.cancelled():
                with contextlib.suppress(ValueError):
                    self._line.remove(future)
            elif (given := future.result()) is not None:
                self.give_back(given)  # handed a slot, then cancelled: pass it on
            raise

    def give_back(self, link: L) -> None:
        """The submit that held a slot of `link` is over (answered or not)."""
        link.held -= 1
        self._hand_out()

    def changed(self) -> None:
        """A link came up or went down."""
        self._hand_out()

    def _hand_out(self) -> None:
        while self._line:
            if self._line[0].done():  # its submit was cancelled
                self._line.popleft()
                continue
            if not any(link.ready for link in self._links):
                # No bind up: each waiting submit is a temporary failure now,
                # as it was when it waited on a connection that died.
                while self._line:
                    future = self._line.popleft()
                    if not future.done():
                        future.set_result(None)
                return
            link = self._roomiest()
            if link is None:
                return
            link.held += 1
            self._line.popleft().set_result(link)

    def _roomiest(self) -> L | None:
        best: L | None = None
        most = 0
        count = len(self._links)
        for step in range(count):
            at = (self._turn + step) % count
            link = self._links[at]
            room = self._window - link.held
            if link.ready and room > most:
                best, most, chosen = link, room, at
        if best is not None:
            self._turn = (chosen + 1) % count
        return best
