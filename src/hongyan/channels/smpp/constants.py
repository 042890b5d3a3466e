"""SMPP 3.4 wire constants, named as in the specification (issue 12-Oct-1999).

Command ids: §5.1.2.1. Command status: §5.1.3. Optional parameter tags:
§5.3.2. The esm_class and data_coding bits: §5.2.12 and §5.2.19.
"""

from __future__ import annotations

from enum import IntEnum

RESPONSE_BIT = 0x80000000
HEADER_SIZE = 16
# The spec sets no upper bound; a peer announcing more than this is broken or
# hostile, and the stream cannot be trusted after it (§3.2).
MAX_PDU_SIZE = 64 * 1024
INTERFACE_VERSION = 0x34
MAX_SHORT_MESSAGE = 254  # sm_length is one octet (§5.2.21)


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class CommandStatus(IntEnum):
    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED` for 0x58; a vendor code the spec does not name as hex."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class Tag(IntEnum):
    """Optional parameter (TLV) tags, §5.3.2."""

    DEST_ADDR_SUBUNIT = 0x0005
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    USER_MESSAGE_REFERENCE = 0x0204
    PAYLOAD_TYPE = 0x0019
    RECEIPTED_MESSAGE_ID = 0x001E
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427
    NETWORK_ERROR_CODE = 0x0423
    MORE_MESSAGES_TO_SEND = 0x0426


class MessageState(IntEnum):
    """message_state values, §5.2.28 (query_sm_resp and the TLV of a receipt)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class DataCoding(IntEnum):
    """data_coding values we send or must read, §5.2.19."""

    DEFAULT = 0x00  # the SMSC default alphabet: GSM 03.38 here
    IA5 = 0x01
    OCTET_UNSPECIFIED = 0x02
    LATIN1 = 0x03
    OCTET_UNSPECIFIED_2 = 0x04
    UCS2 = 0x08


# esm_class bits (§5.2.12).
ESM_UDHI = 0x40  # the short message starts with a user data header
ESM_RECEIPT_MASK = 0x3C  # message type bits 2-5
ESM_DELIVERY_RECEIPT = 0x04
ESM_INTERMEDIATE_NOTIFICATION = 0x20

# registered_delivery (§5.2.17): ask for a receipt on final success or failure.
REGISTERED_DELIVERY_FINAL = 0x01
