"""What the ISMG simulator sends an SP: status reports and a handset's
replies, as CMPP_DELIVER. No I/O; ismg.py queues and offers them.

A DELIVER waiting in the queue is kept in its 3.0 form and fitted to the
version of the connection that carries it when it is offered (`fitted`): an
SP may have a 2.0 and a 3.0 connection up, and the report's layout and the
terminal ids' width differ between the two (CMPP 3.0 §8.4.5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime

from hongyan.channels.cmpp.codec import encode_report
from hongyan.channels.cmpp.pdu import V3, Deliver, MsgFmt, StatusReport
from hongyan.channels.smpp.text import concat_udh

# The user data of one short message (3GPP TS 23.040 §9.2.3.24): CMPP's
# Msg_Length allows 255, no handset sends more than this.
MAX_USER_DATA = 140
_TERMINAL_WIDTH = {V3: 32}  # 2.0: 21


def stamp(at: datetime) -> str:
    """Submit_time and Done_time of a status report: YYMMDDHHMM."""
    return at.strftime("%y%m%d%H%M")


def receipt(msg_id: int, dest_id: str, service_id: str, destination: str) -> Deliver:
    """The DELIVER carrying a status report (Registered_Delivery 1) about a
    message to `destination`; its Msg_Content is made by `fitted`."""
    return Deliver(
        msg_id=msg_id,
        dest_id=dest_id,
        service_id=service_id,
        src_terminal_id=destination,
        registered_delivery=1,
        msg_fmt=MsgFmt.ASCII,
    )


def mo_parts(
    source: str, destination: str, text: str, parts: int, reference: int, msg_ids: Iterator[int]
) -> list[Deliver]:
    """A handset's reply in `parts` parts (at least as many as it needs), each
    after a concatenation UDH (05 00 03 ref total seq) with TP_udhi 1."""
    ascii_text = text.isascii()
    fmt = MsgFmt.ASCII if ascii_text else MsgFmt.UCS2
    pieces = _cut(text, max(1, parts), ascii_text)
    found = []
    for seq, piece in enumerate(pieces, 1):
        udh = concat_udh(reference, len(pieces), seq) if len(pieces) > 1 else b""
        found.append(
            Deliver(
                msg_id=next(msg_ids),
                dest_id=destination,
                src_terminal_id=source,
                registered_delivery=0,
                tp_udhi=1 if udh else 0,
                msg_fmt=fmt,
                msg_content=udh + _octets(piece, ascii_text),
            )
        )
    return found


def fitted(deliver: Deliver, report: StatusReport | None, version: int) -> Deliver:
    """A fresh DELIVER in the layout of `version`: terminal ids cut to its
    width, the status report (if any) encoded as its Msg_Content."""
    width = _TERMINAL_WIDTH.get(version, 21)
    pdu = dataclasses.replace(deliver, src_terminal_id=deliver.src_terminal_id[:width])
    if report is not None:
        report = dataclasses.replace(report, dest_terminal_id=report.dest_terminal_id[:width])
        pdu.msg_content = encode_report(report, version)
    return pdu


def _octets(piece: str, ascii_text: bool) -> bytes:
    return piece.encode("ascii") if ascii_text else piece.encode("utf-16-be", "surrogatepass")


def _cut(text: str, parts: int, ascii_text: bool) -> list[str]:
    """`text` in `parts` pieces of about equal length, more if one would not fit."""
    count = parts
    while True:
        size = max(1, -(-len(text) // count))
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        room = MAX_USER_DATA - (6 if len(pieces) > 1 else 0)
        if all(len(_octets(p, ascii_text)) <= room for p in pieces):
            return pieces
        count += 1
