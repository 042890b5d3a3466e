"""CMPP frames: PDUs to bytes and back, for either version; Msg_Id and the
authenticators. No I/O.

A CMPP header carries no version: the session knows which one the CONNECT
agreed on and passes it to `encode` and `decode`. Octet strings are fixed
size, left-aligned and NUL-padded (CMPP 3.0 §8.1); they are read up to the
first NUL as Latin-1, so no byte a gateway sends can make decoding fail, and
written as ASCII (a field too long or not ASCII is our bug: ValueError).

`Msg_Id` is one 64-bit number (CMPP 3.0 §8.4.3): month (4 bits), day (5), hour (5),
minute (6), second (6), the ISMG's gateway code (22) and a sequence (16).
We keep it as that number and store its decimal form, the one operators
quote; `MsgId` gives the parts and the other forms carriers print.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hongyan.channels import framing
from hongyan.channels.cmpp.pdu import (
    BY_COMMAND_ID,
    CONTENT,
    HEADER_SIZE,
    MAX_PDU_SIZE,
    OCTETS,
    RESPONSE_BIT,
    STR,
    TERMINALS,
    U8,
    U32,
    U64,
    V2,
    V3,
    ActiveTestResp,
    ConnectResp,
    Layout,
    Pdu,
    StatusReport,
    layout,
)

_HEADER = struct.Struct(">III")
_CONNECT_RESP_V3 = HEADER_SIZE + 4 + 16 + 1
_INTS = {U8: struct.Struct(">B"), U32: struct.Struct(">I"), U64: struct.Struct(">Q")}


class PduError(Exception):
    """A frame that cannot be read: which request it was (to answer it), and why."""

    def __init__(self, command_id: int, sequence: int, reason: str) -> None:
        super().__init__(reason)
        self.command_id = command_id
        self.sequence = sequence

    @property
    def known_request(self) -> bool:
        return self.command_id in BY_COMMAND_ID and not self.command_id & RESPONSE_BIT


class Framer(framing.Framer):
    def __init__(self, max_size: int = MAX_PDU_SIZE) -> None:
        super().__init__(HEADER_SIZE, max_size)


# -- encoding ---------------------------------------------------------------------


def encode(pdu: Pdu, version: int) -> bytes:
    body = _pack(pdu, layout(type(pdu), version))
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.sequence) + body


def encode_report(report: StatusReport, version: int) -> bytes:
    """The Msg_Content of a status-report DELIVER."""
    return bytes(_pack(report, layout(StatusReport, version)))


def _pack(obj: Any, fields: Layout) -> bytearray:
    out = bytearray()
    for name, kind, size in fields:
        value = getattr(obj, name)
        if kind in _INTS:
            try:
                out += _INTS[kind].pack(value)
            except struct.error:
                raise ValueError(f"{name} does not fit {size} octets: {value!r}") from None
        elif kind == STR:
            out += _fixed(name, value, size)
        elif kind == OCTETS:
            if len(value) != size:
                raise ValueError(f"{name} must be {size} octets, not {len(value)}")
            out += value
        elif kind == CONTENT:
            if len(value) > size:
                raise ValueError(f"{name} is {len(value)} octets, at most {size}")
            out.append(len(value))
            out += value
        else:  # TERMINALS
            if not 1 <= len(value) < 100:  # DestUsr_tl: "fewer than 100 users"
                raise ValueError(f"{name}: 1 to 99 numbers, not {len(value)}")
            out.append(len(value))
            for number in value:
                out += _fixed(name, number, size)
    return out


def _fixed(name: str, value: str, size: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > size or b"\0" in raw:
        raise ValueError(f"{name} must be at most {size} octets without NUL: {value!r}")
    return raw.ljust(size, b"\0")


# -- decoding ---------------------------------------------------------------------


def header(frame: bytes) -> tuple[int, int, int]:
    """Total_Length, Command_Id, Sequence_Id of a frame at least a header long."""
    return _HEADER.unpack_from(frame)


def decode(frame: bytes, version: int) -> Pdu:
    """One PDU from one whole frame (as `Framer` cuts them); PduError if unreadable."""
    if len(frame) < HEADER_SIZE:
        raise PduError(0, 0, "shorter than a header")
    length, command_id, sequence = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise PduError(command_id, sequence, "length mismatch")
    cls = BY_COMMAND_ID.get(command_id)
    if cls is None:
        raise PduError(command_id, sequence, f"unknown command 0x{command_id:08X}")
    if cls is ConnectResp:
        # Read in the layout its size tells: a gateway that speaks only 2.0
        # answers a 3.0 CONNECT in 2.0, and the channel must say so.
        version = V3 if length == _CONNECT_RESP_V3 else V2
    if cls is ActiveTestResp and length == HEADER_SIZE:
        return ActiveTestResp(sequence=sequence)  # some gateways leave Reserved out
    values, end = _unpack(frame, HEADER_SIZE, layout(cls, version), command_id, sequence)
    if end != len(frame):
        raise PduError(command_id, sequence, f"{len(frame) - end} octets past the last field")
    pdu = cls(sequence=sequence, **values)
    if isinstance(pdu, ConnectResp):
        pdu.layout = version
    return pdu


def decode_report(content: bytes, version: int) -> StatusReport:
    values, end = _unpack(content, 0, layout(StatusReport, version), 0, 0)
    if end != len(content):
        raise PduError(0, 0, f"status report of {len(content)} octets, not {end}")
    return StatusReport(**values)


def _unpack(
    data: bytes, pos: int, fields: Layout, command_id: int, sequence: int
) -> tuple[dict[str, Any], int]:
    values: dict[str, Any] = {}
    end = len(data)
    for name, kind, size in fields:
        if kind in (CONTENT, TERMINALS):
            if pos >= end:
                raise PduError(command_id, sequence, f"{name} missing")
            count = data[pos]
            pos += 1
            if kind == CONTENT:
                if pos + count > end:
                    raise PduError(command_id, sequence, "Msg_Length past the end")
                values[name] = bytes(data[pos : pos + count])
                pos += count
            else:
                if pos + count * size > end:
                    raise PduError(command_id, sequence, "terminal ids past the end")
                values[name] = [_text(data, pos + i * size, size) for i in range(count)]
                pos += count * size
            continue
        if pos + size > end:
            raise PduError(command_id, sequence, f"{name} missing")
        if kind in _INTS:
            values[name] = _INTS[kind].unpack_from(data, pos)[0]
        elif kind == STR:
            values[name] = _text(data, pos, size)
        else:
            values[name] = bytes(data[pos : pos + size])
        pos += size
    return values, pos


def _text(data: bytes, pos: int, size: int) -> str:
    raw = data[pos : pos + size]
    nul = raw.find(b"\0")
    return (raw if nul < 0 else raw[:nul]).decode("latin-1")


# -- Msg_Id ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MsgId:
    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int  # the ISMG's code, 22 bits
    sequence: int  # 16 bits

    @classmethod
    def of(cls, value: int) -> MsgId:
        return cls(
            (value >> 60) & 0xF,
            (value >> 55) & 0x1F,
            (value >> 50) & 0x1F,
            (value >> 44) & 0x3F,
            (value >> 38) & 0x3F,
            (value >> 16) & 0x3FFFFF,
            value & 0xFFFF,
        )

    @classmethod
    def make(cls, at: datetime, gateway: int, sequence: int) -> MsgId:
        return cls(
            at.month, at.day, at.hour, at.minute, at.second, gateway & 0x3FFFFF, sequence & 0xFFFF
        )

    @property
    def value(self) -> int:
        return (
            self.month << 60
            | self.day << 55
            | self.hour << 50
            | self.minute << 44
            | self.second << 38
            | self.gateway << 16
            | self.sequence
        )

    def __str__(self) -> str:
        """The decimal form, as we store it and most platforms print it."""
        return str(self.value)

    @property
    def readable(self) -> str:
        """MMDDHHMMSS, the gateway code in 7 digits and the sequence in 5: the
        form some carriers' portals and logs show."""
        return (
            f"{self.month:02d}{self.day:02d}{self.hour:02d}{self.minute:02d}"
            f"{self.second:02d}{self.gateway:07d}{self.sequence:05d}"
        )

    @property
    def hex(self) -> str:
        return f"{self.value:016X}"


# -- authentication (CMPP 3.0 §8.4.1) ----------------------------------------------


def timestamp(at: datetime) -> int:
    """CONNECT's Timestamp: MMDDHHMMSS read as a decimal number."""
    return int(at.strftime("%m%d%H%M%S"))


def authenticator_source(source_addr: str, secret: str, stamp: int) -> bytes:
    """MD5(Source_Addr + 9 zero octets + shared secret + timestamp as 10 digits)."""
    material = (
        source_addr.encode("ascii") + bytes(9) + secret.encode("ascii") + f"{stamp:010d}".encode()
    )
    return hashlib.md5(material).digest()


def authenticator_ismg(status: int, source: bytes, secret: str, version: int) -> bytes:
    """MD5(Status + AuthenticatorSource + shared secret); Status is one octet in
    2.0 and four in 3.0, as in CONNECT_RESP."""
    width = 4 if version >= 0x30 else 1
    material = status.to_bytes(width, "big") + source + secret.encode("ascii")
    return hashlib.md5(material).digest()
