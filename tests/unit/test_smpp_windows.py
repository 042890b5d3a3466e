"""Which bind a submit goes over (channels/smpp/windows.py), without sockets:
the channel's sessions write to in-memory transports, and the test answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import pytest

from hongyan.channels.base import Part
from hongyan.channels.smpp import codec, pdu
from hongyan.channels.smpp.channel import SmppChannel
from hongyan.channels.smpp.session import Session
from hongyan.channels.smpp.settings import SmppSettings
from hongyan.channels.windows import Windows

WITHIN_S = 5.0  # generous: nothing here waits on anything but the event loop


class MemoryTransport:
    """What a Session writes, kept as PDUs; never closes by itself."""

    def __init__(self) -> None:
        self.sent: list[pdu.Pdu] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.sent.append(codec.decode(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    abort = close


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WITHIN_S
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {WITHIN_S} s: {what}")
        await asyncio.sleep(0.001)


def bound_channel(
    binds: int, window: int
) -> tuple[SmppChannel, list[Session], list[MemoryTransport]]:
    """A channel whose binds are up over memory transports (start() is not called)."""
    channel = SmppChannel(
        SmppSettings(name="mem", system_id="x", binds=binds, window=window, bind_wait_s=0), ""
    )
    sessions, transports = [], []
    for link in channel._links:
        session = Session(link.label, channel._on_request, window=window)
        transport = MemoryTransport()
        session.connection_made(cast(asyncio.Transport, transport))
        session.bound = True
        link.session, link.state = session, "bound"
        sessions.append(session)
        transports.append(transport)
    channel._up_changed()
    return channel, sessions, transports


def answer(session: Session, request: pdu.Pdu, message_id: str) -> None:
    session.data_received(
        codec.encode(pdu.SubmitSmResp(sequence=request.sequence, message_id=message_id))
    )


def one_part(message_id: int) -> Part:
    return Part(message_id, 1, 1, f"1390000{message_id:04d}", "", f"message {message_id}")


async def test_a_waiting_submit_takes_the_first_slot_that_frees_on_any_bind() -> None:
    channel, sessions, sent = bound_channel(binds=2, window=1)
    submitting = asyncio.create_task(channel.submit([one_part(1), one_part(2), one_part(3)]))
    try:
        await until(lambda: [len(t.sent) for t in sent] == [1, 1], "one submit on each bind")
        # Bind 2 answers first: message 3 must not wait for bind 1's answer.
        answer(sessions[1], sent[1].sent[0], "b")
        await until(lambda: len(sent[1].sent) == 2, "message 3 on bind 2, the one with room")
        assert len(sent[0].sent) == 1
        answer(sessions[0], sent[0].sent[0], "a")
        answer(sessions[1], sent[1].sent[1], "c")
        outcomes = await asyncio.wait_for(submitting, WITHIN_S)
    finally:
        submitting.cancel()
        for session in sessions:
            session.connection_lost(None)
    assert [o.upstream_id for o in outcomes] == ["a", "b", "c"]


@dataclass
class FakeLink:
    ready: bool = True
    held: int = 0


async def test_ties_go_in_turn_and_the_most_room_first() -> None:
    links = [FakeLink(), FakeLink(), FakeLink()]
    windows = Windows(links, window=2)
    taken = [await windows.take() for _ in range(6)]
    assert taken == [links[0], links[1], links[2]] * 2
    windows.give_back(links[1])
    assert await windows.take() is links[1]  # the only one with room


async def test_a_full_channel_hands_freed_slots_out_first_come_first_served() -> None:
    links = [FakeLink(), FakeLink()]
    windows = Windows(links, window=1)
    assert [await windows.take(), await windows.take()] == links
    first = asyncio.create_task(windows.take())
    second = asyncio.create_task(windows.take())
    await until(lambda: len(windows._line) == 2, "both in line")
    windows.give_back(links[1])
    assert await asyncio.wait_for(first, WITHIN_S) is links[1]
    assert not second.done()
    windows.give_back(links[0])
    assert await asyncio.wait_for(second, WITHIN_S) is links[0]


async def test_no_bind_up_is_no_slot_and_a_cancelled_waiter_passes_its_slot_on() -> None:
    links = [FakeLink(ready=False)]
    windows = Windows(links, window=1)
    assert await windows.take() is None
    links[0].ready = True
    windows.changed()
    assert await windows.take() is links[0]
    gone = asyncio.create_task(windows.take())
    kept = asyncio.create_task(windows.take())
    await until(lambda: len(windows._line) == 2, "both in line")
    gone.cancel()
    windows.give_back(links[0])
    assert await asyncio.wait_for(kept, WITHIN_S) is links[0]
    assert links[0].held == 1
    # The bind goes down: whoever waits gives up at once (a temporary failure).
    waiting = asyncio.create_task(windows.take())
    await until(lambda: len(windows._line) == 1, "in line")
    links[0].ready = False
    windows.changed()
    assert await asyncio.wait_for(waiting, WITHIN_S) is None
