"""Delivery receipts: what a receipt deliver_sm says, and message ids made comparable.

The receipt text follows SMPP 3.4 Appendix B
(`id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
stat:DDDDDDD err:E text:...`); SMSCs vary in case, spacing and field order, so
each field is looked for on its own. The TLVs `receipted_message_id` and
`message_state` (§5.3.2.12, §5.3.2.35) win when present: they are typed.

Ids: the same message's id can come back in another form than
`submit_sm_resp` gave it: decimal in the receipt where the response was hex
(Kannel's `msg-id-type`), upper case, leading zeros. Each channel says the base
of each source; both are brought to one canonical form before they are stored
or looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from hongyan.channels.smpp.constants import (
    ESM_DELIVERY_RECEIPT,
    ESM_INTERMEDIATE_NOTIFICATION,
    ESM_RECEIPT_MASK,
    MessageState,
    Tag,
)
from hongyan.channels.smpp.pdu import DeliverSm, read_cstr, read_int
from hongyan.core.states import Status

IdBase = Literal["text", "hex", "dec"]

_FIELD = re.compile(r"(?i)\b(id|stat|err)\s*:\s*([^\s]*)")
# Final words of the receipt text (Appendix B table B-2); the rest are not final.
_FINAL_WORDS = {"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "UNKNOWN", "REJECTD"}
_STATE_WORDS = {
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
    MessageState.ENROUTE: "ENROUTE",
    MessageState.ACCEPTED: "ACCEPTD",
}


def canonical_id(raw: str, base: IdBase = "text") -> str:
    """One spelling per id: numbers as lower-case hex without leading zeros."""
    value = raw.strip()
    try:
        if base == "hex":
            return format(int(value, 16), "x")
        if base == "dec":
            return format(int(value, 10), "x")
    except ValueError:
        pass
    return value.lower().lstrip("0") or "0"


def is_receipt(pdu: DeliverSm) -> bool:
    kind = pdu.esm_class & ESM_RECEIPT_MASK
    return kind in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION) or (
        Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs and kind == 0 and Tag.MESSAGE_STATE in pdu.tlvs
    )


@dataclass(frozen=True, slots=True)
class ParsedReceipt:
    upstream_id: str  # canonical
    word: str  # DELIVRD, UNDELIV, ... as the SMSC said it
    error: str

    @property
    def final(self) -> bool:
        return self.word in _FINAL_WORDS

    @property
    def status(self) -> str:
        """The report status we record: "100" for delivered, else the SMSC's word."""
        return Status.DELIVERED if self.word == "DELIVRD" else self.word


def parse(
    pdu: DeliverSm, submit_base: IdBase = "text", receipt_base: IdBase = "text"
) -> ParsedReceipt | None:
    """The receipt in a receipt deliver_sm; None if it names no message."""
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(pdu.short_message.decode("latin-1")):
        fields.setdefault(key.lower(), value)  # the first: "text:" may repeat a name
    tlv_id = read_cstr(pdu.tlvs, Tag.RECEIPTED_MESSAGE_ID)
    if tlv_id:
        upstream_id = canonical_id(tlv_id, submit_base)
    elif fields.get("id"):
        upstream_id = canonical_id(fields["id"], receipt_base)
    else:
        return None
    state = read_int(pdu.tlvs, Tag.MESSAGE_STATE)
    if state in _STATE_WORDS:
        word = _STATE_WORDS[MessageState(state)]
    else:
        word = fields.get("stat", "").upper()[:7] or "UNKNOWN"
    error = fields.get("err", "")
    network = pdu.tlvs.get(Tag.NETWORK_ERROR_CODE)
    if network and not error:
        error = network.hex()
    return ParsedReceipt(upstream_id, word, error)
