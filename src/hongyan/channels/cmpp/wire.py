"""The CMPP wire of the shared session (channels/session.py): ACTIVE_TEST
probes, TERMINATE goodbyes, and the version the CONNECT agreed on.

CMPP has no generic_nack: a request that cannot be read is answered with its
own response where that has a result field (Result 1, "message structure
error"; CONNECT_RESP Status 1), and otherwise only logged.
"""

from __future__ import annotations

from typing import Any

from hongyan.channels import session
from hongyan.channels.cmpp import codec
from hongyan.channels.cmpp.pdu import (
    V3,
    ActiveTest,
    ActiveTestResp,
    CommandId,
    ConnectResp,
    DeliverResp,
    Pdu,
    SubmitResp,
    Terminate,
    TerminateResp,
)
from hongyan.channels.session import Handler, Unreadable

__all__ = ["CmppWire", "Handler", "Session"]

_STRUCTURE_ERROR = 1  # Result / Status 1 in every response that has one


class CmppWire:
    protocol = "cmpp"
    probe_name = "ACTIVE_TEST"

    def __init__(self, version: int = V3) -> None:
        self.version = version  # the gateway side sets it from the CONNECT it reads

    def framer(self) -> codec.Framer:
        return codec.Framer()

    def encode(self, pdu: Pdu) -> bytes:
        return codec.encode(pdu, self.version)

    def decode(self, frame: bytes) -> Pdu:
        try:
            return codec.decode(frame, self.version)
        except codec.PduError as exc:
            response = bool(exc.command_id & 0x80000000)
            raise Unreadable(
                str(exc), exc.sequence, response, _refusal(exc.command_id, exc.sequence)
            ) from exc

    def broken_stream(self) -> Pdu | None:
        return None

    def answer_here(self, pdu: Pdu) -> tuple[Pdu, bool] | None:
        if pdu.command_id == CommandId.ACTIVE_TEST:
            return ActiveTestResp(sequence=pdu.sequence), False
        if pdu.command_id == CommandId.TERMINATE:
            return TerminateResp(sequence=pdu.sequence), True
        return None

    def handler_failed(self, pdu: Pdu) -> Pdu | None:
        if pdu.command_id == CommandId.DELIVER:
            # Not taken: the gateway offers the DELIVER again (CMPP 3.0 §8.4.5
            # leaves the codes past 8 to the parties; 9 is "other error").
            return DeliverResp(sequence=pdu.sequence, msg_id=getattr(pdu, "msg_id", 0), result=9)
        return _refusal(pdu.command_id, pdu.sequence)

    def probe(self) -> Pdu:
        return ActiveTest()

    def goodbye(self) -> Pdu:
        return Terminate()

    def expected_stray(self, pdu: Pdu) -> bool:
        return False


def _refusal(command_id: int, sequence: int) -> Pdu | None:
    if command_id == CommandId.SUBMIT:
        return SubmitResp(sequence=sequence, result=_STRUCTURE_ERROR)
    if command_id == CommandId.DELIVER:
        return DeliverResp(sequence=sequence, result=_STRUCTURE_ERROR)
    if command_id == CommandId.CONNECT:
        return ConnectResp(sequence=sequence, status=_STRUCTURE_ERROR)
    return None


class Session(session.Session):
    """A CMPP connection; `wire.version` is the version in use."""

    wire: CmppWire

    def __init__(self, name: str, handler: Handler, version: int = V3, **options: Any) -> None:
        super().__init__(name, handler, CmppWire(version), **options)
