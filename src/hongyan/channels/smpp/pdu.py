"""SMPP 3.4 PDUs: bytes to dataclasses and back. No I/O (STYLE.md item 2).

Written here rather than taken from a library: the asyncio SMPP libraries on
PyPI either lack an in-flight window or break under receipt load (issue 5
records the measurements), and the codec is a few hundred lines of `struct`
over the tables of SMPP 3.4 §4 and §5, which this module follows field for
field.

`Framer` cuts a byte stream into frames (§3.2: a 4-octet command_length
leads every PDU). `decode(frame)` gives a PDU or raises `PduError`, which
says what to answer: the request's own response with a command_status, or a
generic_nack when the command itself is unknown (§4.3). `encode(pdu)` gives
the frame. C-Octet strings are ASCII in the spec; they are read and written
as Latin-1 so no byte a peer sends can make decoding fail.

The size limits of §4 bind what we send (`encode` refuses a field too long)
but not what we read: carriers' SMSCs do send longer addresses and ids than
the tables allow, and refusing a receipt over that would only make the SMSC
send it again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from hongyan.channels.smpp.constants import (
    HEADER_SIZE,
    INTERFACE_VERSION,
    MAX_PDU_SIZE,
    RESPONSE_BIT,
    CommandId,
    CommandStatus,
)

_HEADER = struct.Struct(">IIII")
_TLV_HEAD = struct.Struct(">HH")

# Field kinds of the mandatory parameters.
_CSTR, _U8, _SM = 0, 1, 2


class PduError(Exception):
    """A frame that cannot be read: what to answer, and why (for the log)."""

    def __init__(self, status: int, command_id: int, sequence: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.command_id = command_id
        self.sequence = sequence

    @property
    def answer_with_nack(self) -> bool:
        """Unknown commands get generic_nack; known requests their own response."""
        return self.command_id not in _CLASSES or bool(self.command_id & RESPONSE_BIT)


class FrameError(Exception):
    """The stream announced an impossible length: it cannot be followed further."""


@dataclass(slots=True)
class Pdu:
    command_id: ClassVar[int]
    FIELDS: ClassVar[tuple[tuple[str, int, int], ...]] = ()
    sequence: int = 0
    status: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)


# -- session management (§4.1, §4.2, §4.3, §4.11) -----------------------------

_BIND_FIELDS = (
    ("system_id", _CSTR, 16),
    ("password", _CSTR, 9),
    ("system_type", _CSTR, 13),
    ("interface_version", _U8, 0),
    ("addr_ton", _U8, 0),
    ("addr_npi", _U8, 0),
    ("address_range", _CSTR, 41),
)


@dataclass(slots=True)
class Bind(Pdu):
    FIELDS = _BIND_FIELDS
    system_id: str = ""
    password: str = field(default="", repr=False)
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(slots=True)
class BindTransmitter(Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(slots=True)
class BindReceiver(Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(slots=True)
class BindTransceiver(Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True)
class BindResp(Pdu):
    FIELDS = (("system_id", _CSTR, 16),)
    system_id: str = ""


@dataclass(slots=True)
class BindTransmitterResp(BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True)
class BindReceiverResp(BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True)
class BindTransceiverResp(BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(slots=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND


@dataclass(slots=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP


@dataclass(slots=True)
class GenericNack(Pdu):
    command_id = CommandId.GENERIC_NACK


# -- messages (§4.4, §4.6, §4.7, §4.8) ----------------------------------------

_SM_FIELDS = (
    ("service_type", _CSTR, 6),
    ("source_addr_ton", _U8, 0),
    ("source_addr_npi", _U8, 0),
    ("source_addr", _CSTR, 21),
    ("dest_addr_ton", _U8, 0),
    ("dest_addr_npi", _U8, 0),
    ("destination_addr", _CSTR, 21),
    ("esm_class", _U8, 0),
    ("protocol_id", _U8, 0),
    ("priority_flag", _U8, 0),
    ("schedule_delivery_time", _CSTR, 17),
    ("validity_period", _CSTR, 17),
    ("registered_delivery", _U8, 0),
    ("replace_if_present_flag", _U8, 0),
    ("data_coding", _U8, 0),
    ("sm_default_msg_id", _U8, 0),
    ("short_message", _SM, 254),
)


@dataclass(slots=True)
class ShortMessage(Pdu):
    """The body submit_sm and deliver_sm share (§4.4.1, §4.6.1)."""

    FIELDS = _SM_FIELDS
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(slots=True)
class SubmitSm(ShortMessage):
    command_id = CommandId.SUBMIT_SM


@dataclass(slots=True)
class DeliverSm(ShortMessage):
    command_id = CommandId.DELIVER_SM


@dataclass(slots=True)
class MessageIdResp(Pdu):
    FIELDS = (("message_id", _CSTR, 65),)
    message_id: str = ""


@dataclass(slots=True)
class SubmitSmResp(MessageIdResp):
    command_id = CommandId.SUBMIT_SM_RESP


@dataclass(slots=True)
class DeliverSmResp(MessageIdResp):
    command_id = CommandId.DELIVER_SM_RESP


@dataclass(slots=True)
class DataSmResp(MessageIdResp):
    command_id = CommandId.DATA_SM_RESP


@dataclass(slots=True)
class DataSm(Pdu):
    command_id = CommandId.DATA_SM
    FIELDS = (
        ("service_type", _CSTR, 6),
        ("source_addr_ton", _U8, 0),
        ("source_addr_npi", _U8, 0),
        ("source_addr", _CSTR, 65),
        ("dest_addr_ton", _U8, 0),
        ("dest_addr_npi", _U8, 0),
        ("destination_addr", _CSTR, 65),
        ("esm_class", _U8, 0),
        ("registered_delivery", _U8, 0),
        ("data_coding", _U8, 0),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0


@dataclass(slots=True)
class QuerySm(Pdu):
    command_id = CommandId.QUERY_SM
    FIELDS = (
        ("message_id", _CSTR, 65),
        ("source_addr_ton", _U8, 0),
        ("source_addr_npi", _U8, 0),
        ("source_addr", _CSTR, 21),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(slots=True)
class QuerySmResp(Pdu):
    command_id = CommandId.QUERY_SM_RESP
    FIELDS = (
        ("message_id", _CSTR, 65),
        ("final_date", _CSTR, 17),
        ("message_state", _U8, 0),
        ("error_code", _U8, 0),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindReceiver,
        BindTransceiver,
        BindTransmitterResp,
        BindReceiverResp,
        BindTransceiverResp,
        EnquireLink,
        EnquireLinkResp,
        Unbind,
        UnbindResp,
        GenericNack,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        DataSm,
        DataSmResp,
        QuerySm,
        QuerySmResp,
    )
}

PDU_CLASSES: tuple[type[Pdu], ...] = tuple(_CLASSES.values())

_RESPONSES: dict[int, type[Pdu]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
    CommandId.ENQUIRE_LINK: EnquireLinkResp,
    CommandId.UNBIND: UnbindResp,
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DELIVER_SM: DeliverSmResp,
    CommandId.DATA_SM: DataSmResp,
    CommandId.QUERY_SM: QuerySmResp,
}


def response_to(command_id: int, sequence: int, status: int = 0) -> Pdu:
    """The response PDU that answers a request (generic_nack for an unknown one)."""
    cls = _RESPONSES.get(command_id, GenericNack)
    return cls(sequence=sequence, status=status)


# -- encoding -------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The frame of one PDU. A field too long for the spec is our bug: ValueError."""
    body = bytearray()
    if not (pdu.is_response and pdu.status and _is_empty(pdu)):
        for name, kind, size in pdu.FIELDS:
            value = getattr(pdu, name)
            if kind == _CSTR:
                raw = value.encode("latin-1")
                if len(raw) >= size or b"\0" in raw:
                    raise ValueError(f"{name} must be under {size} octets without NUL: {value!r}")
                body += raw
                body.append(0)
            elif kind == _U8:
                body.append(value)
            else:
                if len(value) > size:
                    raise ValueError(f"{name} is {len(value)} octets, at most {size}")
                body.append(len(value))
                body += value
        for tag, value in pdu.tlvs.items():
            body += _TLV_HEAD.pack(tag, len(value))
            body += value
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


def _is_empty(pdu: Pdu) -> bool:
    """An error response with nothing in it is sent without a body (§4.4.2)."""
    defaults = type(pdu)(sequence=pdu.sequence, status=pdu.status)
    return pdu == defaults


# -- decoding -------------------------------------------------------------------


def decode(frame: bytes) -> Pdu:
    """One PDU from one whole frame (as `Framer` cuts them)."""
    if len(frame) < HEADER_SIZE:
        raise PduError(CommandStatus.ESME_RINVCMDLEN, 0, 0, "shorter than a header")
    length, command_id, status, sequence = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise PduError(CommandStatus.ESME_RINVCMDLEN, command_id, sequence, "length mismatch")
    cls = _CLASSES.get(command_id)
    if cls is None:
        raise PduError(CommandStatus.ESME_RINVCMDID, command_id, sequence, "unknown command")
    end = len(frame)
    pos = HEADER_SIZE
    if pos == end:
        if cls.FIELDS and not command_id & RESPONSE_BIT:
            # Mandatory parameters are mandatory (§4); only a response may
            # come without its body (§4.4.2).
            raise PduError(CommandStatus.ESME_RINVMSGLEN, command_id, sequence, "no body")
        return cls(sequence=sequence, status=status)
    if not cls.FIELDS:
        raise PduError(CommandStatus.ESME_RINVCMDLEN, command_id, sequence, "body not expected")
    values: dict[str, object] = {}
    for name, kind, _size in cls.FIELDS:
        if kind == _CSTR:
            nul = frame.find(b"\0", pos, end)
            if nul < 0:
                raise PduError(
                    CommandStatus.ESME_RINVMSGLEN, command_id, sequence, f"{name} not terminated"
                )
            values[name] = frame[pos:nul].decode("latin-1")
            pos = nul + 1
        elif pos >= end:
            raise PduError(CommandStatus.ESME_RINVMSGLEN, command_id, sequence, f"{name} missing")
        elif kind == _U8:
            values[name] = frame[pos]
            pos += 1
        else:
            size = frame[pos]
            pos += 1
            if pos + size > end:
                raise PduError(
                    CommandStatus.ESME_RINVMSGLEN, command_id, sequence, "sm_length past the end"
                )
            values[name] = bytes(frame[pos : pos + size])
            pos += size
    tlvs: dict[int, bytes] = {}
    while pos < end:
        if pos + 4 > end:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, command_id, sequence, "truncated TLV"
            )
        tag, size = _TLV_HEAD.unpack_from(frame, pos)
        pos += 4
        if pos + size > end:
            raise PduError(CommandStatus.ESME_RINVPARLEN, command_id, sequence, "TLV past the end")
        tlvs[tag] = bytes(frame[pos : pos + size])
        pos += size
    return cls(sequence=sequence, status=status, tlvs=tlvs, **values)


class Framer:
    """Cuts a byte stream into whole frames (SMPP 3.4 §3.2)."""

    def __init__(self, max_size: int = MAX_PDU_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_size

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def frames(self) -> list[bytes]:
        """Every whole frame received so far; FrameError on an impossible length."""
        buffer = self._buffer
        found: list[bytes] = []
        pos = 0
        while len(buffer) - pos >= 4:
            length = int.from_bytes(buffer[pos : pos + 4], "big")
            if length < HEADER_SIZE or length > self._max:
                del buffer[:pos]
                raise FrameError(f"command_length {length}")
            if len(buffer) - pos < length:
                break
            found.append(bytes(buffer[pos : pos + length]))
            pos += length
        del buffer[:pos]
        return found


# -- optional parameters (§5.3) -------------------------------------------------


def tlv_int(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def tlv_cstr(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


def read_int(tlvs: dict[int, bytes], tag: int) -> int | None:
    raw = tlvs.get(tag)
    return int.from_bytes(raw, "big") if raw else None


def read_cstr(tlvs: dict[int, bytes], tag: int) -> str | None:
    raw = tlvs.get(tag)
    if raw is None:
        return None
    return raw.split(b"\0", 1)[0].decode("latin-1")
