"""Between our records and CMPP PDUs, both ways, with no I/O: a message part
as the SUBMIT that carries it, a DELIVER as the receipt, reply or part of a
long reply it carries, and a SUBMIT_RESP's Result as the status a refused
part ends with. The channel (channel.py) does the sending and committing."""

from __future__ import annotations

import logging

from hongyan.channels.base import InboundFragment, InboundReply, Part, Receipt
from hongyan.channels.cmpp import codec, text
from hongyan.channels.cmpp.pdu import V2, V3, Deliver, StatusReport, Submit, SubmitResult
from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.channels.inbound import reply as inbound_reply
from hongyan.core import extensions
from hongyan.core.states import Status

log = logging.getLogger(__name__)

Inbound = Receipt | InboundReply | InboundFragment

# The status a part refused in its SUBMIT_RESP ends with (at most 20 characters).
_WORDS: dict[int, str] = {
    SubmitResult.BAD_STRUCTURE: "CMPP_STRUCTURE",
    SubmitResult.BAD_COMMAND: "CMPP_COMMAND",
    SubmitResult.DUPLICATE_SEQUENCE: "CMPP_DUP_SEQUENCE",
    SubmitResult.BAD_LENGTH: "CMPP_MSG_LENGTH",
    SubmitResult.BAD_FEE_CODE: "CMPP_FEE_CODE",
    SubmitResult.TOO_LONG: "CMPP_TOO_LONG",
    SubmitResult.BAD_SERVICE_ID: "CMPP_SERVICE_ID",
    SubmitResult.FLOW_CONTROL: "CMPP_FLOW_CONTROL",
    SubmitResult.NOT_OUR_FEE_NUMBER: "CMPP_FEE_NUMBER",
    SubmitResult.BAD_SRC_ID: "CMPP_SRC_ID",
    SubmitResult.BAD_MSG_SRC: "CMPP_MSG_SRC",
    SubmitResult.BAD_FEE_TERMINAL: "CMPP_FEE_TERMINAL",
    SubmitResult.BAD_DEST_TERMINAL: "CMPP_DEST_TERMINAL",
}
_REPORT_SIZES = {60: V2, 71: V3}  # a status report's size tells its version
_ID_AND_STAT = 15  # Msg_Id (8 octets) and Stat (7), first in both layouts


def result_word(result: int, version: int = V3) -> str:
    """The status of a part its SUBMIT_RESP refused. 2.0's table ends at 8
    ("9 and up: other errors"), so its codes past 8 keep their number."""
    if version < V3 and result > SubmitResult.FLOW_CONTROL:
        return f"CMPP_RESULT_{result}"[:20]
    return _WORDS.get(result, f"CMPP_RESULT_{result}"[:20])


def submit(part: Part, s: CmppSettings, gateway_prefix: str) -> Submit:
    """The SUBMIT of one part (CMPP 3.0 §8.4.3)."""
    kept = part.extension if s.append_extension else ""
    source = extensions.gateway_number(s.src_id or gateway_prefix, kept)
    pdu = Submit(
        pk_total=part.total,
        pk_number=part.seq,
        registered_delivery=1,
        msg_level=s.msg_level,
        service_id=s.service_id,
        fee_user_type=s.fee_user_type,
        fee_terminal_id=s.fee_terminal_id,
        msg_src=s.msg_src or s.sp_id,
        fee_type=s.fee_type,
        fee_code=s.fee_code,
        src_id=source[:21],
        dest_terminal_ids=[s.dest_prefix + part.destination],
        link_id=s.link_id,
    )
    msg_fmt, octets = text.encode(part.text, s.coding)
    pdu.msg_fmt = msg_fmt
    if part.total > 1:
        pdu.tp_udhi = 1
        octets = text.concat_udh(part.message_id & 0xFF, part.total, part.seq) + octets
    pdu.msg_content = octets
    return pdu


def inbound(pdu: Deliver, s: CmppSettings, gateway_prefix: str, now: int) -> Inbound | None:
    """What a DELIVER carries: a receipt, a reply or a part of a long reply;
    None for a status report too short to name a message."""
    if pdu.registered_delivery == 1:
        report = _report(pdu.msg_content)
        if report is None:
            return None
        stat = report.stat.strip().upper() or "UNKNOWN"
        status = Status.DELIVERED if stat == "DELIVRD" else stat
        return Receipt(str(report.msg_id), status, now)
    body = pdu.msg_content
    concat = None
    if pdu.tp_udhi:
        concat, body, _ = text.split_udh(body)
    content = text.decode(pdu.msg_fmt, body)
    return inbound_reply(
        pdu.src_terminal_id,
        pdu.dest_id,
        content,
        concat,
        dest_prefix=s.dest_prefix,
        carrier_number=s.src_id,
        gateway_prefix=gateway_prefix,
        now=now,
    )


def _report(content: bytes) -> StatusReport | None:
    version = _REPORT_SIZES.get(len(content))
    if version is not None:
        return codec.decode_report(content, version)
    if len(content) >= _ID_AND_STAT:
        # A size of neither layout (padding, a gateway's own variant): Msg_Id
        # and Stat lead both layouts at the same offsets, and they are what
        # the report is for.
        log.warning("cmpp status report of an unusual size", extra={"octets": len(content)})
        stat = content[8:_ID_AND_STAT].split(b"\0", 1)[0].decode("latin-1")
        return StatusReport(msg_id=int.from_bytes(content[:8], "big"), stat=stat)
    return None
