"""What `hongyan smsc` sends an ESME: delivery receipts and a handset's
replies, as deliver_sm PDUs. No I/O; smsc.py queues and offers them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from hongyan.channels.smpp import text
from hongyan.channels.smpp.constants import ESM_DELIVERY_RECEIPT, ESM_UDHI, MessageState, Tag
from hongyan.channels.smpp.pdu import DataSm, DeliverSm, SubmitSm, tlv_cstr, tlv_int

WORD_STATES = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
}


def receipt_for(
    pdu: SubmitSm | DataSm, message_id: str, receipt_id: str, word: str, *, tlvs: bool
) -> DeliverSm:
    """Receipt text per SMPP 3.4 Appendix B, and the TLVs of §5.3.2.12 and §5.3.2.35.

    `receipt_id` is the id as the text gives it (a carrier may write it in
    another base than the submit_sm_resp did); the TLV carries `message_id`."""
    stamp = datetime.now(UTC).strftime("%y%m%d%H%M")
    delivered = word == "DELIVRD"
    body = (
        f"id:{receipt_id} sub:001 "
        f"dlvrd:{'001' if delivered else '000'} submit date:{stamp} done date:{stamp} "
        f"stat:{word} err:{'000' if delivered else '001'} text:"
    )
    receipt = DeliverSm(
        source_addr=pdu.destination_addr[:20],
        destination_addr=pdu.source_addr[:20],
        esm_class=ESM_DELIVERY_RECEIPT,
        short_message=body.encode("ascii"),
    )
    if tlvs:
        receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] = tlv_cstr(message_id)
        receipt.tlvs[Tag.MESSAGE_STATE] = tlv_int(WORD_STATES[word], 1)
    return receipt


def mo_parts(
    source: str,
    destination: str,
    content: str,
    parts: int,
    split: Literal["udh8", "sar"],
    reference: int,
) -> list[DeliverSm]:
    """A handset's reply in `parts` parts (at least as many as it needs),
    joined by a concatenation UDH or by SAR TLVs."""
    pieces = text.segments(content, split)
    if parts > len(pieces):
        size = -(-len(content) // parts)
        pieces = [content[i : i + size] for i in range(0, len(content), size)]
    found = []
    for seq, piece in enumerate(pieces, 1):
        pdu = DeliverSm(source_addr=source, destination_addr=destination)
        udh = b""
        if len(pieces) > 1 and split == "udh8":
            udh = text.concat_udh(reference, len(pieces), seq)
            pdu.esm_class = ESM_UDHI
        elif len(pieces) > 1:
            pdu.tlvs[Tag.SAR_MSG_REF_NUM] = tlv_int(reference, 2)
            pdu.tlvs[Tag.SAR_TOTAL_SEGMENTS] = tlv_int(len(pieces), 1)
            pdu.tlvs[Tag.SAR_SEGMENT_SEQNUM] = tlv_int(seq, 1)
        encoded = text.encode(piece, udh=udh)
        pdu.data_coding, pdu.short_message = encoded.data_coding, encoded.octets
        found.append(pdu)
    return found
