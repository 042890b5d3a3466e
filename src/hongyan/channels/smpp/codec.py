"""SMPP 3.4 frames: PDUs to bytes and back. No I/O (STYLE.md item 2).

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

from hongyan.channels import framing
from hongyan.channels.framing import FrameError
from hongyan.channels.smpp.constants import (
    HEADER_SIZE,
    MAX_PDU_SIZE,
    RESPONSE_BIT,
    CommandStatus,
)
from hongyan.channels.smpp.pdu import BY_COMMAND_ID, CSTR, U8, Pdu

__all__ = ["FrameError", "Framer", "PduError", "decode", "encode"]

_HEADER = struct.Struct(">IIII")
_TLV_HEAD = struct.Struct(">HH")


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
        return self.command_id not in BY_COMMAND_ID or bool(self.command_id & RESPONSE_BIT)


# -- encoding -------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The frame of one PDU. A field too long for the spec is our bug: ValueError."""
    body = bytearray()
    if not (pdu.is_response and pdu.status and _is_empty(pdu)):
        for name, kind, size in pdu.FIELDS:
            value = getattr(pdu, name)
            if kind == CSTR:
                raw = value.encode("latin-1")
                if len(raw) >= size or b"\0" in raw:
                    raise ValueError(f"{name} must be under {size} octets without NUL: {value!r}")
                body += raw
                body.append(0)
            elif kind == U8:
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
    cls = BY_COMMAND_ID.get(command_id)
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
        if kind == CSTR:
            nul = frame.find(b"\0", pos, end)
            if nul < 0:
                raise PduError(
                    CommandStatus.ESME_RINVMSGLEN, command_id, sequence, f"{name} not terminated"
                )
            values[name] = frame[pos:nul].decode("latin-1")
            pos = nul + 1
        elif pos >= end:
            raise PduError(CommandStatus.ESME_RINVMSGLEN, command_id, sequence, f"{name} missing")
        elif kind == U8:
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


class Framer(framing.Framer):
    """Cuts a byte stream into whole frames (SMPP 3.4 §3.2)."""

    def __init__(self, max_size: int = MAX_PDU_SIZE) -> None:
        super().__init__(HEADER_SIZE, max_size)
