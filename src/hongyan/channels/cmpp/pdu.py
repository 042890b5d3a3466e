"""CMPP 2.0 and 3.0 PDUs as dataclasses, with each command's fields in the
order and sizes of the specifications' tables (CMPP 3.0 §8.4, and CMPP 2.0 where it differs).
No I/O; codec.py turns them into frames and back.

The two versions share command ids and most fields; where they differ the
class has one layout per version: 3.0 widens terminal ids from 21 to 32
octets and adds their `*_terminal_type`, adds `LinkID`, replaces 2.0's
trailing `Reserve` of SUBMIT and DELIVER, and makes the results of
CONNECT_RESP, SUBMIT_RESP, DELIVER_RESP and CANCEL_RESP four octets.

Written here rather than taken from a library: the CMPP packages on PyPI are
CMPP 2.0 clients only, unmaintained, without the 3.0 layouts, a gateway side,
or an asyncio session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

V2, V3 = 0x20, 0x30  # the Version octet of CMPP_CONNECT: major in the high nibble
VERSIONS = (V2, V3)
RESPONSE_BIT = 0x80000000
HEADER_SIZE = 12  # Total_Length, Command_Id, Sequence_Id
MAX_PDU_SIZE = 4096  # a SUBMIT to 100 numbers with 140 octets: ~3.4 KB in 3.0


class CommandId(IntEnum):
    CONNECT = 0x00000001
    CONNECT_RESP = 0x80000001
    TERMINATE = 0x00000002
    TERMINATE_RESP = 0x80000002
    SUBMIT = 0x00000004
    SUBMIT_RESP = 0x80000004
    DELIVER = 0x00000005
    DELIVER_RESP = 0x80000005
    QUERY = 0x00000006
    QUERY_RESP = 0x80000006
    CANCEL = 0x00000007
    CANCEL_RESP = 0x80000007
    ACTIVE_TEST = 0x00000008
    ACTIVE_TEST_RESP = 0x80000008


class ConnectStatus(IntEnum):
    """CMPP_CONNECT_RESP Status."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_SOURCE_ADDR = 2
    AUTH_FAILED = 3
    VERSION_TOO_HIGH = 4


class SubmitResult(IntEnum):
    """CMPP_SUBMIT_RESP Result (CMPP 3.0 §8.4.3; 2.0 stops at 9)."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_LENGTH = 4
    BAD_FEE_CODE = 5
    TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8
    NOT_OUR_FEE_NUMBER = 9
    BAD_SRC_ID = 10
    BAD_MSG_SRC = 11
    BAD_FEE_TERMINAL = 12
    BAD_DEST_TERMINAL = 13


class MsgFmt(IntEnum):
    ASCII = 0
    WRITE_CARD = 3
    BINARY = 4
    UCS2 = 8
    GBK = 15


# Field kinds: (name, kind, size).
U8, U32, U64 = "u8", "u32", "u64"
STR = "str"  # fixed size, ASCII, NUL-padded on the right
OCTETS = "octets"  # fixed size, raw
CONTENT = "content"  # Msg_Length (one octet), then that many octets
TERMINALS = "terminals"  # DestUsr_tl (one octet), then that many ids of `size`

Layout = tuple[tuple[str, str, int], ...]


@dataclass(slots=True)
class Pdu:
    command_id: ClassVar[int]
    # One layout for both versions, or one per version.
    FIELDS: ClassVar[Layout] = ()
    FIELDS_V3: ClassVar[Layout | None] = None
    sequence: int = 0

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)


def layout(kind: type[Pdu] | type[StatusReport], version: int) -> Layout:
    """The fields of a PDU (or status report) in `version`."""
    if version >= V3 and kind.FIELDS_V3 is not None:
        return kind.FIELDS_V3
    return kind.FIELDS


def _result(version_width: int) -> tuple[str, str, int]:
    return ("result", U8 if version_width == 1 else U32, version_width)


# -- connection (§8.4.1, §8.4.2, §8.4.7) ------------------------------------------


@dataclass(slots=True)
class Connect(Pdu):
    command_id = CommandId.CONNECT
    FIELDS = (
        ("source_addr", STR, 6),
        ("authenticator_source", OCTETS, 16),
        ("version", U8, 1),
        ("timestamp", U32, 4),
    )
    source_addr: str = ""
    authenticator_source: bytes = field(default=bytes(16), repr=False)
    version: int = V3
    timestamp: int = 0  # MMDDHHMMSS as a decimal number


@dataclass(slots=True)
class ConnectResp(Pdu):
    command_id = CommandId.CONNECT_RESP
    FIELDS = (("status", U8, 1), ("authenticator_ismg", OCTETS, 16), ("version", U8, 1))
    FIELDS_V3 = (("status", U32, 4), ("authenticator_ismg", OCTETS, 16), ("version", U8, 1))
    status: int = 0
    authenticator_ismg: bytes = field(default=bytes(16), repr=False)
    version: int = V3
    # Not on the wire: the layout a decoded answer came in, told by its size
    # (codec.decode): a 2.0-only gateway answers a 3.0 login in 2.0.
    layout: int = field(default=0, compare=False, repr=False)


@dataclass(slots=True)
class Terminate(Pdu):
    command_id = CommandId.TERMINATE


@dataclass(slots=True)
class TerminateResp(Pdu):
    command_id = CommandId.TERMINATE_RESP


@dataclass(slots=True)
class ActiveTest(Pdu):
    command_id = CommandId.ACTIVE_TEST


@dataclass(slots=True)
class ActiveTestResp(Pdu):
    command_id = CommandId.ACTIVE_TEST_RESP
    FIELDS = (("reserved", U8, 1),)
    reserved: int = 0


# -- messages (§8.4.3, §8.4.5) -----------------------------------------------------


@dataclass(slots=True)
class Submit(Pdu):
    command_id = CommandId.SUBMIT
    FIELDS = (
        ("msg_id", U64, 8),
        ("pk_total", U8, 1),
        ("pk_number", U8, 1),
        ("registered_delivery", U8, 1),
        ("msg_level", U8, 1),
        ("service_id", STR, 10),
        ("fee_user_type", U8, 1),
        ("fee_terminal_id", STR, 21),
        ("tp_pid", U8, 1),
        ("tp_udhi", U8, 1),
        ("msg_fmt", U8, 1),
        ("msg_src", STR, 6),
        ("fee_type", STR, 2),
        ("fee_code", STR, 6),
        ("valid_time", STR, 17),
        ("at_time", STR, 17),
        ("src_id", STR, 21),
        ("dest_terminal_ids", TERMINALS, 21),
        ("msg_content", CONTENT, 140),
        ("reserve", STR, 8),
    )
    FIELDS_V3 = (
        ("msg_id", U64, 8),
        ("pk_total", U8, 1),
        ("pk_number", U8, 1),
        ("registered_delivery", U8, 1),
        ("msg_level", U8, 1),
        ("service_id", STR, 10),
        ("fee_user_type", U8, 1),
        ("fee_terminal_id", STR, 32),
        ("fee_terminal_type", U8, 1),
        ("tp_pid", U8, 1),
        ("tp_udhi", U8, 1),
        ("msg_fmt", U8, 1),
        ("msg_src", STR, 6),
        ("fee_type", STR, 2),
        ("fee_code", STR, 6),
        ("valid_time", STR, 17),
        ("at_time", STR, 17),
        ("src_id", STR, 21),
        ("dest_terminal_ids", TERMINALS, 32),
        ("dest_terminal_type", U8, 1),
        ("msg_content", CONTENT, 140),
        ("link_id", STR, 20),
    )
    msg_id: int = 0
    pk_total: int = 1
    pk_number: int = 1
    registered_delivery: int = 1
    msg_level: int = 0
    service_id: str = ""
    fee_user_type: int = 0
    fee_terminal_id: str = ""
    fee_terminal_type: int = 0  # 3.0
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = MsgFmt.ASCII
    msg_src: str = ""
    fee_type: str = "01"
    fee_code: str = "000000"
    valid_time: str = ""
    at_time: str = ""
    src_id: str = ""
    dest_terminal_ids: list[str] = field(default_factory=list)
    dest_terminal_type: int = 0  # 3.0
    msg_content: bytes = b""
    link_id: str = ""  # 3.0
    reserve: str = ""  # 2.0


@dataclass(slots=True)
class SubmitResp(Pdu):
    command_id = CommandId.SUBMIT_RESP
    FIELDS = (("msg_id", U64, 8), _result(1))
    FIELDS_V3 = (("msg_id", U64, 8), _result(4))
    msg_id: int = 0
    result: int = 0


@dataclass(slots=True)
class Deliver(Pdu):
    """An MO message, or a status report (`registered_delivery` 1) whose
    `msg_content` is a `StatusReport`."""

    command_id = CommandId.DELIVER
    FIELDS = (
        ("msg_id", U64, 8),
        ("dest_id", STR, 21),
        ("service_id", STR, 10),
        ("tp_pid", U8, 1),
        ("tp_udhi", U8, 1),
        ("msg_fmt", U8, 1),
        ("src_terminal_id", STR, 21),
        ("registered_delivery", U8, 1),
        ("msg_content", CONTENT, 255),
        ("reserved", STR, 8),
    )
    FIELDS_V3 = (
        ("msg_id", U64, 8),
        ("dest_id", STR, 21),
        ("service_id", STR, 10),
        ("tp_pid", U8, 1),
        ("tp_udhi", U8, 1),
        ("msg_fmt", U8, 1),
        ("src_terminal_id", STR, 32),
        ("src_terminal_type", U8, 1),
        ("registered_delivery", U8, 1),
        ("msg_content", CONTENT, 255),
        ("link_id", STR, 20),
    )
    msg_id: int = 0
    dest_id: str = ""
    service_id: str = ""
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = MsgFmt.ASCII
    src_terminal_id: str = ""
    src_terminal_type: int = 0  # 3.0
    registered_delivery: int = 0
    msg_content: bytes = b""
    link_id: str = ""  # 3.0
    reserved: str = ""  # 2.0


@dataclass(slots=True)
class DeliverResp(Pdu):
    command_id = CommandId.DELIVER_RESP
    FIELDS = (("msg_id", U64, 8), _result(1))
    FIELDS_V3 = (("msg_id", U64, 8), _result(4))
    msg_id: int = 0
    result: int = 0


@dataclass(slots=True)
class StatusReport:
    """The Msg_Content of a status-report DELIVER (§8.4.5, table "状态报告")."""

    FIELDS: ClassVar[Layout] = (
        ("msg_id", U64, 8),
        ("stat", STR, 7),
        ("submit_time", STR, 10),
        ("done_time", STR, 10),
        ("dest_terminal_id", STR, 21),
        ("smsc_sequence", U32, 4),
    )
    FIELDS_V3: ClassVar[Layout | None] = (
        ("msg_id", U64, 8),
        ("stat", STR, 7),
        ("submit_time", STR, 10),
        ("done_time", STR, 10),
        ("dest_terminal_id", STR, 32),
        ("smsc_sequence", U32, 4),
    )
    msg_id: int = 0
    stat: str = "DELIVRD"
    submit_time: str = ""  # YYMMDDHHMM
    done_time: str = ""
    dest_terminal_id: str = ""
    smsc_sequence: int = 0


# -- queries (§8.4.4, §8.4.6) --------------------------------------------------------


@dataclass(slots=True)
class Query(Pdu):
    command_id = CommandId.QUERY
    FIELDS = (
        ("time", STR, 8),
        ("query_type", U8, 1),
        ("query_code", STR, 10),
        ("reserve", STR, 8),
    )
    time: str = ""  # YYYYMMDD
    query_type: int = 0  # 0: totals, 1: by service (query_code)
    query_code: str = ""
    reserve: str = ""


@dataclass(slots=True)
class QueryResp(Pdu):
    command_id = CommandId.QUERY_RESP
    FIELDS = (
        ("time", STR, 8),
        ("query_type", U8, 1),
        ("query_code", STR, 10),
        ("mt_tlmsg", U32, 4),
        ("mt_tlusr", U32, 4),
        ("mt_scs", U32, 4),
        ("mt_wt", U32, 4),
        ("mt_fl", U32, 4),
        ("mo_scs", U32, 4),
        ("mo_wt", U32, 4),
        ("mo_fl", U32, 4),
    )
    time: str = ""
    query_type: int = 0
    query_code: str = ""
    mt_tlmsg: int = 0
    mt_tlusr: int = 0
    mt_scs: int = 0
    mt_wt: int = 0
    mt_fl: int = 0
    mo_scs: int = 0
    mo_wt: int = 0
    mo_fl: int = 0


@dataclass(slots=True)
class Cancel(Pdu):
    command_id = CommandId.CANCEL
    FIELDS = (("msg_id", U64, 8),)
    msg_id: int = 0


@dataclass(slots=True)
class CancelResp(Pdu):
    command_id = CommandId.CANCEL_RESP
    FIELDS = (("success_id", U8, 1),)
    FIELDS_V3 = (("success_id", U32, 4),)
    success_id: int = 0  # 0 cancelled, 1 not


REQUESTS: dict[int, type[Pdu]] = {
    cls.command_id: cls for cls in (Connect, Terminate, Submit, Deliver, Query, Cancel, ActiveTest)
}
RESPONSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        ConnectResp,
        TerminateResp,
        SubmitResp,
        DeliverResp,
        QueryResp,
        CancelResp,
        ActiveTestResp,
    )
}
BY_COMMAND_ID: dict[int, type[Pdu]] = {**REQUESTS, **RESPONSES}
