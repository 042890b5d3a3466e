"""SMPP 3.4 PDUs as dataclasses: each command's mandatory parameters, in the
order and sizes of SMPP 3.4 §4, and its optional parameters (§5.3) as TLVs.
No I/O (STYLE.md item 2); codec.py turns them into frames and back.

Written here rather than taken from a library: the asyncio SMPP libraries on
PyPI either lack an in-flight window or break under receipt load (issue 5
records the measurements), and the tables of §4 and §5 are a few hundred lines
of declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hongyan.channels.smpp.constants import (
    INTERFACE_VERSION,
    RESPONSE_BIT,
    CommandId,
)

# Field kinds of the mandatory parameters.
CSTR, U8, OCTETS = 0, 1, 2


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
    ("system_id", CSTR, 16),
    ("password", CSTR, 9),
    ("system_type", CSTR, 13),
    ("interface_version", U8, 0),
    ("addr_ton", U8, 0),
    ("addr_npi", U8, 0),
    ("address_range", CSTR, 41),
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
    FIELDS = (("system_id", CSTR, 16),)
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
    ("service_type", CSTR, 6),
    ("source_addr_ton", U8, 0),
    ("source_addr_npi", U8, 0),
    ("source_addr", CSTR, 21),
    ("dest_addr_ton", U8, 0),
    ("dest_addr_npi", U8, 0),
    ("destination_addr", CSTR, 21),
    ("esm_class", U8, 0),
    ("protocol_id", U8, 0),
    ("priority_flag", U8, 0),
    ("schedule_delivery_time", CSTR, 17),
    ("validity_period", CSTR, 17),
    ("registered_delivery", U8, 0),
    ("replace_if_present_flag", U8, 0),
    ("data_coding", U8, 0),
    ("sm_default_msg_id", U8, 0),
    ("short_message", OCTETS, 254),
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
    FIELDS = (("message_id", CSTR, 65),)
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
        ("service_type", CSTR, 6),
        ("source_addr_ton", U8, 0),
        ("source_addr_npi", U8, 0),
        ("source_addr", CSTR, 65),
        ("dest_addr_ton", U8, 0),
        ("dest_addr_npi", U8, 0),
        ("destination_addr", CSTR, 65),
        ("esm_class", U8, 0),
        ("registered_delivery", U8, 0),
        ("data_coding", U8, 0),
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
        ("message_id", CSTR, 65),
        ("source_addr_ton", U8, 0),
        ("source_addr_npi", U8, 0),
        ("source_addr", CSTR, 21),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(slots=True)
class QuerySmResp(Pdu):
    command_id = CommandId.QUERY_SM_RESP
    FIELDS = (
        ("message_id", CSTR, 65),
        ("final_date", CSTR, 17),
        ("message_state", U8, 0),
        ("error_code", U8, 0),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


BY_COMMAND_ID: dict[int, type[Pdu]] = {
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

PDU_CLASSES: tuple[type[Pdu], ...] = tuple(BY_COMMAND_ID.values())

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
