"""Between our records and SMPP 3.4 PDUs, both ways, with no I/O: a message
part as the submit_sm that carries it (addresses, data coding, UDH or SAR
for a long message), and a deliver_sm or data_sm as the receipt, reply or
part of a long reply it carries. The channel (channel.py) does the sending
and the committing.
"""

from __future__ import annotations

import logging

from hongyan.channels.base import InboundFragment, InboundReply, Part, Receipt
from hongyan.channels.inbound import reply as inbound_reply
from hongyan.channels.smpp import receipt, text
from hongyan.channels.smpp.constants import ESM_UDHI, REGISTERED_DELIVERY_FINAL, Tag
from hongyan.channels.smpp.pdu import DataSm, DeliverSm, SubmitSm, read_int, tlv_int
from hongyan.channels.smpp.settings import SmppSettings
from hongyan.core import extensions

log = logging.getLogger(__name__)

Inbound = Receipt | InboundReply | InboundFragment


def submit_sm(part: Part, s: SmppSettings) -> SubmitSm:
    """The submit_sm of one part (SMPP 3.4 §4.4.1)."""
    source = part.source
    if s.source_addr:
        # The carrier's own prefix in place of the platform's (SmppSettings.source_addr).
        kept = part.extension if s.append_extension else ""
        source = extensions.gateway_number(s.source_addr, kept)
    pdu = SubmitSm(
        service_type=s.service_type,
        source_addr_ton=s.source_ton if s.source_ton is not None else _ton(source),
        source_addr_npi=s.source_npi if s.source_npi is not None else _npi(source),
        source_addr=source[:20],
        dest_addr_ton=s.dest_ton,
        dest_addr_npi=s.dest_npi,
        destination_addr=(s.dest_prefix + part.destination)[:20],
        registered_delivery=REGISTERED_DELIVERY_FINAL,
    )
    udh = b""
    if part.total > 1 and s.split in ("udh8", "udh16"):
        wide = s.split == "udh16"
        reference = part.message_id & (0xFFFF if wide else 0xFF)
        udh = text.concat_udh(reference, part.total, part.seq, wide)
        pdu.esm_class = ESM_UDHI
    elif part.total > 1:  # sar
        pdu.tlvs[Tag.SAR_MSG_REF_NUM] = tlv_int(part.message_id & 0xFFFF, 2)
        pdu.tlvs[Tag.SAR_TOTAL_SEGMENTS] = tlv_int(part.total, 1)
        pdu.tlvs[Tag.SAR_SEGMENT_SEQNUM] = tlv_int(part.seq, 1)
    encoded = text.encode(part.text, s.gsm7, s.gsm7_packed, udh)
    pdu.data_coding = encoded.data_coding
    if len(encoded.octets) > 140 and s.split == "payload":
        pdu.tlvs[Tag.MESSAGE_PAYLOAD] = encoded.octets
    else:
        pdu.short_message = encoded.octets
    return pdu


def inbound(pdu: DeliverSm, s: SmppSettings, gateway_prefix: str, now: int) -> Inbound | None:
    """What a deliver_sm carries: a final receipt, a reply, a part of a long
    reply; None for a receipt that is not final, or names no message (logged)."""
    if receipt.is_receipt(pdu):
        parsed = receipt.parse(pdu, s.submit_id_base, s.receipt_id_base)
        if parsed is None:
            log.warning("smpp receipt names no message", extra={"channel": s.name})
            return None
        return Receipt(parsed.upstream_id, parsed.status, now) if parsed.final else None
    body = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) or pdu.short_message
    concat: text.Concat | None = None
    fill = 0
    if pdu.esm_class & ESM_UDHI:
        concat, body, udh_size = text.split_udh(body)
        fill = (7 - (udh_size * 8) % 7) % 7 if udh_size else 0
    elif Tag.SAR_MSG_REF_NUM in pdu.tlvs:
        concat = text.Concat(
            read_int(pdu.tlvs, Tag.SAR_MSG_REF_NUM) or 0,
            read_int(pdu.tlvs, Tag.SAR_TOTAL_SEGMENTS) or 1,
            read_int(pdu.tlvs, Tag.SAR_SEGMENT_SEQNUM) or 1,
        )
    content = text.decode(pdu.data_coding, body, s.gsm7_packed, fill)
    return inbound_reply(
        pdu.source_addr,
        pdu.destination_addr,
        content,
        concat,
        dest_prefix=s.dest_prefix,
        carrier_number=s.source_addr,
        gateway_prefix=gateway_prefix,
        now=now,
    )


def as_deliver(pdu: DataSm) -> DeliverSm:
    return DeliverSm(
        source_addr=pdu.source_addr[:20],
        destination_addr=pdu.destination_addr[:20],
        esm_class=pdu.esm_class,
        data_coding=pdu.data_coding,
        tlvs=pdu.tlvs,
    )


def _ton(address: str) -> int:
    """Type of number for a sender (SMPP 3.4 §5.2.5): alphanumeric 5, else unknown."""
    return 0 if address.isdigit() else 5


def _npi(address: str) -> int:
    return 1 if address.isdigit() else 0
