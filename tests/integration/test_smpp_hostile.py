"""The smpp channel fed bad PDUs by an SMSC on loopback: it answers as SMPP 3.4
says, and a stream it cannot follow is dropped and bound again."""

from __future__ import annotations

import asyncio
import struct

from hongyan.channels.base import InboundFragment, InboundReply, Receipt
from hongyan.channels.smpp import codec, pdu
from hongyan.channels.smpp.channel import SmppChannel
from hongyan.channels.smpp.constants import CommandId, CommandStatus
from hongyan.channels.smpp.settings import SmppSettings
from tests.waiting import until_async


class NullSink:
    async def receipt(self, channel: str, receipt: Receipt) -> None: ...

    async def reply(self, channel: str, reply: InboundReply) -> None: ...

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None: ...


async def read_pdu(reader: asyncio.StreamReader) -> pdu.Pdu:
    head = await reader.readexactly(16)
    body = await reader.readexactly(struct.unpack(">I", head[:4])[0] - 16)
    return codec.decode(head + body)


async def test_bad_pdus_get_their_answers_and_a_broken_stream_is_rebound() -> None:
    answers: list[pdu.Pdu] = []
    binds = 0

    async def smsc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal binds
        bind = await read_pdu(reader)
        binds += 1
        writer.write(codec.encode(pdu.BindTransceiverResp(sequence=bind.sequence)))
        if binds == 1:
            writer.write(struct.pack(">IIII", 16, 0x1234, 0, 7))  # an unknown command
            writer.write(struct.pack(">IIII", 20, CommandId.DELIVER_SM, 0, 8) + b"abcd")
            answers.extend([await read_pdu(reader), await read_pdu(reader)])
            writer.write(struct.pack(">I", 3) + b"zz")  # a length no PDU can have
        await writer.drain()
        await reader.read()  # until the channel hangs up (or the test ends)
        writer.close()

    server = await asyncio.start_server(smsc, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = SmppSettings(name="hostile", port=port, system_id="x", reconnect_min_s=0.05)
    channel = SmppChannel(settings, "")
    await channel.start(NullSink())
    try:

        async def bound_again() -> bool:
            return binds == 2 and channel.status().state == "up"

        await until_async(bound_again, "dropped on the bad length, then bound again")
        assert [(type(a), a.sequence, a.status) for a in answers] == [
            (pdu.GenericNack, 7, CommandStatus.ESME_RINVCMDID),
            (pdu.DeliverSmResp, 8, CommandStatus.ESME_RINVMSGLEN),
        ]
        assert binds == 2  # dropped on the bad length, then bound again
        assert channel.status().state == "up"
    finally:
        await channel.stop()
        server.close()
        await server.wait_closed()


async def test_a_bind_keeps_trying_past_a_thousand_failures() -> None:
    """An SMSC that hangs up on every bind (down for hours, in real time): the
    channel keeps reconnecting. The reconnect delay doubled as a float to the
    power of the failures, which overflows at the 1,025th; the task died and the
    channel never bound again."""
    attempts = 0

    async def smsc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.close()

    server = await asyncio.start_server(smsc, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = SmppSettings(
        name="gone", port=port, system_id="x", reconnect_min_s=0.0001, reconnect_max_s=0.001
    )
    channel = SmppChannel(settings, "")
    await channel.start(NullSink())
    try:

        async def past_the_overflow() -> bool:
            return attempts > 1_100

        await until_async(past_the_overflow, "still reconnecting after 1,100 failed binds")
    finally:
        await channel.stop()
        server.close()
        await server.wait_closed()
