"""The SMPP wire of the shared session (channels/session.py): enquire_link
probes, unbind goodbyes, generic_nack for what cannot be read (§4.3)."""

from __future__ import annotations

from typing import Any

from hongyan.channels import session
from hongyan.channels.session import Handler, Unreadable
from hongyan.channels.smpp.codec import Framer, PduError, decode, encode
from hongyan.channels.smpp.constants import CommandId, CommandStatus
from hongyan.channels.smpp.pdu import (
    EnquireLink,
    GenericNack,
    Pdu,
    Unbind,
    UnbindResp,
    response_to,
)

__all__ = ["Handler", "Session", "SmppWire"]


class SmppWire:
    protocol = "smpp"
    probe_name = "enquire_link"

    def framer(self) -> Framer:
        return Framer()

    def encode(self, pdu: Pdu) -> bytes:
        return encode(pdu)

    def decode(self, frame: bytes) -> Pdu:
        try:
            return decode(frame)
        except PduError as exc:
            response = bool(exc.command_id & 0x80000000)
            answer: Pdu | None = None
            if response:
                pass  # never answer a response
            elif exc.answer_with_nack:
                answer = GenericNack(sequence=exc.sequence, status=exc.status)
            else:
                answer = response_to(exc.command_id, exc.sequence, exc.status)
            raise Unreadable(str(exc), exc.sequence, response, answer, exc.status) from exc

    def broken_stream(self) -> Pdu:
        return GenericNack(status=CommandStatus.ESME_RINVCMDLEN)

    def answer_here(self, pdu: Pdu) -> tuple[Pdu, bool] | None:
        if pdu.command_id == CommandId.ENQUIRE_LINK:
            return response_to(pdu.command_id, pdu.sequence), False
        if pdu.command_id == CommandId.UNBIND:
            return UnbindResp(sequence=pdu.sequence), True
        return None

    def handler_failed(self, pdu: Pdu) -> Pdu:
        temporary = pdu.command_id in (CommandId.DELIVER_SM, CommandId.DATA_SM)
        status = CommandStatus.ESME_RX_T_APPN if temporary else CommandStatus.ESME_RSYSERR
        return response_to(pdu.command_id, pdu.sequence, status)

    def probe(self) -> Pdu:
        return EnquireLink()

    def goodbye(self) -> Pdu:
        return Unbind()

    def expected_stray(self, pdu: Pdu) -> bool:
        return bool(pdu.command_id == CommandId.GENERIC_NACK)


class Session(session.Session):
    """An SMPP connection."""

    def __init__(self, name: str, handler: Handler, **options: Any) -> None:
        super().__init__(name, handler, SmppWire(), **options)
