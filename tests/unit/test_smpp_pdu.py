"""The SMPP 3.4 codec against the specification's byte layouts.

Every fixture below is written out field by field from SMPP v3.4 issue 1.2:
the header from §5.1 (command_length, command_id, command_status,
sequence_number, four octets each, big-endian), the bodies from the PDU
tables of §4, the field sizes from §5.2 and the TLV tags from §5.3.2 (tag and
length two octets each, then the value). They are not produced by the code
under test, so a wrong FIELDS table shows up here as a byte mismatch.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hongyan.channels.smpp.codec import (
    FrameError,
    Framer,
    PduError,
    decode,
    encode,
)
from hongyan.channels.smpp.constants import (
    HEADER_SIZE,
    MAX_PDU_SIZE,
    CommandId,
    CommandStatus,
    MessageState,
    Tag,
)
from hongyan.channels.smpp.pdu import (
    CSTR,
    OCTETS,
    PDU_CLASSES,
    U8,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    read_cstr,
    read_int,
    response_to,
    tlv_cstr,
    tlv_int,
)


def _hex(*fields: str) -> bytes:
    """One frame from its fields, each given as hex (spaces allowed)."""
    return bytes.fromhex("".join(fields))


def _frame(command_id: int, body: bytes, status: int = 0, sequence: int = 1) -> bytes:
    """A header with the right command_length in front of `body` (malformed-input tests)."""
    length = HEADER_SIZE + len(body)
    return (
        length.to_bytes(4, "big")
        + command_id.to_bytes(4, "big")
        + status.to_bytes(4, "big")
        + sequence.to_bytes(4, "big")
        + body
    )


# -- fixtures: one or more per PDU type ---------------------------------------------

# §4.1.1 bind_transmitter, the values of the specification's own example.
BIND_TRANSMITTER = _hex(
    "0000002F",  # command_length 47
    "00000002",  # command_id bind_transmitter
    "00000000",  # command_status (NULL in a request)
    "00000001",  # sequence_number 1
    "534D50503354455354 00",  # system_id "SMPP3TEST" (max 16)
    "7365637265743038 00",  # password "secret08" (max 9)
    "5355424D495431 00",  # system_type "SUBMIT1" (max 13)
    "34",  # interface_version 0x34
    "01",  # addr_ton international
    "01",  # addr_npi ISDN (E.164)
    "00",  # address_range "" (max 41)
)

# §4.1.3 bind_receiver: same body as bind_transmitter.
BIND_RECEIVER = _hex(
    "00000020",  # command_length 32
    "00000001",  # command_id bind_receiver
    "00000000",  # command_status
    "00000002",  # sequence_number 2
    "686F6E6779616E 00",  # system_id "hongyan"
    "7077 00",  # password "pw"
    "00",  # system_type ""
    "34",  # interface_version 0x34
    "00",  # addr_ton unknown
    "00",  # addr_npi unknown
    "00",  # address_range ""
)

# §4.1.5 bind_transceiver.
BIND_TRANSCEIVER = _hex(
    "00000021",  # command_length 33
    "00000009",  # command_id bind_transceiver
    "00000000",  # command_status
    "00000003",  # sequence_number 3
    "747278 00",  # system_id "trx"
    "00",  # password ""
    "564D41 00",  # system_type "VMA"
    "34",  # interface_version 0x34
    "02",  # addr_ton national
    "09",  # addr_npi private
    "31323334 00",  # address_range "1234"
)

# §4.1.2 bind_transmitter_resp: system_id, no TLV.
BIND_TRANSMITTER_RESP = _hex(
    "00000015",  # command_length 21
    "80000002",  # command_id bind_transmitter_resp
    "00000000",  # command_status ESME_ROK
    "00000001",  # sequence_number 1
    "534D5343 00",  # system_id "SMSC"
)

# §4.1.4 bind_receiver_resp.
BIND_RECEIVER_RESP = _hex(
    "00000015",  # command_length 21
    "80000001",  # command_id bind_receiver_resp
    "00000000",  # command_status ESME_ROK
    "00000002",  # sequence_number 2
    "534D5343 00",  # system_id "SMSC"
)

# §4.1.6 bind_transceiver_resp with the sc_interface_version TLV (§5.3.2.25).
BIND_TRANSCEIVER_RESP = _hex(
    "0000001A",  # command_length 26
    "80000009",  # command_id bind_transceiver_resp
    "00000000",  # command_status ESME_ROK
    "00000003",  # sequence_number 3
    "534D5343 00",  # system_id "SMSC"
    "0210",  # TLV tag sc_interface_version
    "0001",  # TLV length 1
    "34",  # TLV value 0x34
)

# §4.11.1 / §4.11.2 enquire_link and its response: header only.
ENQUIRE_LINK = _hex(
    "00000010",  # command_length 16
    "00000015",  # command_id enquire_link
    "00000000",  # command_status
    "00000007",  # sequence_number 7
)
ENQUIRE_LINK_RESP = _hex(
    "00000010",  # command_length 16
    "80000015",  # command_id enquire_link_resp
    "00000000",  # command_status ESME_ROK
    "00000007",  # sequence_number 7
)

# §4.2.1 / §4.2.2 unbind and its response: header only.
UNBIND = _hex(
    "00000010",  # command_length 16
    "00000006",  # command_id unbind
    "00000000",  # command_status
    "00000009",  # sequence_number 9
)
UNBIND_RESP = _hex(
    "00000010",  # command_length 16
    "80000006",  # command_id unbind_resp
    "00000000",  # command_status ESME_ROK
    "00000009",  # sequence_number 9
)

# §4.3.1 generic_nack: header only, the error in command_status.
GENERIC_NACK = _hex(
    "00000010",  # command_length 16
    "80000000",  # command_id generic_nack
    "00000003",  # command_status ESME_RINVCMDID
    "0000000B",  # sequence_number 11
)

# §4.4.1 submit_sm, a plain text message.
SUBMIT_SM = _hex(
    "0000003A",  # command_length 58
    "00000004",  # command_id submit_sm
    "00000000",  # command_status
    "00000005",  # sequence_number 5
    "00",  # service_type "" (max 6)
    "05",  # source_addr_ton alphanumeric
    "00",  # source_addr_npi unknown
    "484F4E4759414E 00",  # source_addr "HONGYAN" (max 21)
    "01",  # dest_addr_ton international
    "01",  # dest_addr_npi ISDN
    "38363133383030313338303030 00",  # destination_addr "8613800138000" (max 21)
    "00",  # esm_class default
    "00",  # protocol_id
    "00",  # priority_flag
    "00",  # schedule_delivery_time "" (immediate)
    "00",  # validity_period "" (SMSC default)
    "01",  # registered_delivery: receipt on final outcome
    "00",  # replace_if_present_flag
    "00",  # data_coding SMSC default alphabet
    "00",  # sm_default_msg_id
    "05",  # sm_length 5
    "68656C6C6F",  # short_message "hello"
)

# §4.4.1 submit_sm, one segment of a long UCS-2 message in message_payload,
# with the SAR TLVs (§5.3.2.22-24) and a relative validity_period (§7.1.2).
SUBMIT_SM_TLVS = _hex(
    "00000061",  # command_length 97
    "00000004",  # command_id submit_sm
    "00000000",  # command_status
    "00000006",  # sequence_number 6
    "434D54 00",  # service_type "CMT"
    "00",  # source_addr_ton unknown
    "00",  # source_addr_npi unknown
    "3130363930303031 00",  # source_addr "10690001"
    "01",  # dest_addr_ton international
    "01",  # dest_addr_npi ISDN
    "38363133383030313338303030 00",  # destination_addr "8613800138000"
    "00",  # esm_class default
    "00",  # protocol_id
    "00",  # priority_flag
    "00",  # schedule_delivery_time ""
    "30303030303130303030303030303052 00",  # validity_period "000001000000000R"
    "01",  # registered_delivery
    "00",  # replace_if_present_flag
    "08",  # data_coding UCS2
    "00",  # sm_default_msg_id
    "00",  # sm_length 0: the text is in message_payload
    "",  # short_message (empty)
    "020C 0002 1234",  # TLV sar_msg_ref_num = 0x1234 (2 octets)
    "020E 0001 02",  # TLV sar_total_segments = 2 (1 octet)
    "020F 0001 01",  # TLV sar_segment_seqnum = 1 (1 octet)
    "0424 0004 4F60597D",  # TLV message_payload = "你好" in UCS-2
)

# §4.4.2 submit_sm_resp carrying a message_id.
SUBMIT_SM_RESP = _hex(
    "00000017",  # command_length 23
    "80000004",  # command_id submit_sm_resp
    "00000000",  # command_status ESME_ROK
    "00000005",  # sequence_number 5
    "414243313233 00",  # message_id "ABC123" (max 65)
)

# §4.4.2: on an error the body is not returned, the header stands alone.
SUBMIT_SM_RESP_ERROR = _hex(
    "00000010",  # command_length 16
    "80000004",  # command_id submit_sm_resp
    "00000058",  # command_status ESME_RTHROTTLED
    "00000006",  # sequence_number 6
)

# §4.6.1 deliver_sm carrying a delivery receipt (esm_class §5.2.12 bits 2-5 =
# 0001) with receipted_message_id (§5.3.2.12) and message_state (§5.3.2.35).
DELIVER_SM_RECEIPT = _hex(
    "0000005B",  # command_length 91
    "00000005",  # command_id deliver_sm
    "00000000",  # command_status
    "00000021",  # sequence_number 33
    "00",  # service_type ""
    "01",  # source_addr_ton international
    "01",  # source_addr_npi ISDN
    "38363133383030313338303030 00",  # source_addr "8613800138000"
    "05",  # dest_addr_ton alphanumeric
    "00",  # dest_addr_npi unknown
    "484F4E4759414E 00",  # destination_addr "HONGYAN"
    "04",  # esm_class: SMSC delivery receipt
    "00",  # protocol_id
    "00",  # priority_flag
    "00",  # schedule_delivery_time (NULL in deliver_sm)
    "00",  # validity_period (NULL in deliver_sm)
    "00",  # registered_delivery
    "00",  # replace_if_present_flag (NULL in deliver_sm)
    "00",  # data_coding
    "00",  # sm_default_msg_id (NULL in deliver_sm)
    "16",  # sm_length 22
    "69643A41424331323320 737461743A44454C49565244",  # "id:ABC123 stat:DELIVRD"
    "001E 0007 414243313233 00",  # TLV receipted_message_id = "ABC123" (C-string)
    "0427 0001 02",  # TLV message_state = DELIVERED (1 octet)
)

# §4.6.2 deliver_sm_resp: message_id unused, a lone NUL.
DELIVER_SM_RESP = _hex(
    "00000011",  # command_length 17
    "80000005",  # command_id deliver_sm_resp
    "00000000",  # command_status ESME_ROK
    "00000021",  # sequence_number 33
    "00",  # message_id ""
)

# §4.7.1 data_sm: no short_message field, the text in message_payload.
DATA_SM = _hex(
    "00000034",  # command_length 52
    "00000103",  # command_id data_sm
    "00000000",  # command_status
    "00000010",  # sequence_number 16
    "00",  # service_type ""
    "05",  # source_addr_ton alphanumeric
    "00",  # source_addr_npi unknown
    "484F4E4759414E 00",  # source_addr "HONGYAN" (max 65)
    "01",  # dest_addr_ton international
    "01",  # dest_addr_npi ISDN
    "38363133383030313338303030 00",  # destination_addr "8613800138000" (max 65)
    "00",  # esm_class
    "01",  # registered_delivery
    "03",  # data_coding Latin-1
    "0424 0002 4869",  # TLV message_payload = "Hi"
)

# §4.7.2 data_sm_resp.
DATA_SM_RESP = _hex(
    "00000013",  # command_length 19
    "80000103",  # command_id data_sm_resp
    "00000000",  # command_status ESME_ROK
    "00000010",  # sequence_number 16
    "3432 00",  # message_id "42"
)

# §4.8.1 query_sm.
QUERY_SM = _hex(
    "00000021",  # command_length 33
    "00000003",  # command_id query_sm
    "00000000",  # command_status
    "00000011",  # sequence_number 17
    "414243313233 00",  # message_id "ABC123" (max 65)
    "05",  # source_addr_ton alphanumeric
    "00",  # source_addr_npi unknown
    "484F4E4759414E 00",  # source_addr "HONGYAN" (max 21)
)

# §4.8.2 query_sm_resp, final_date an absolute time (§7.1.1).
QUERY_SM_RESP = _hex(
    "0000002A",  # command_length 42
    "80000003",  # command_id query_sm_resp
    "00000000",  # command_status ESME_ROK
    "00000011",  # sequence_number 17
    "414243313233 00",  # message_id "ABC123"
    "3234 3031 3031 3132 3031 3030 30 3034 2B 00",  # final_date "240101120100004+" (max 17)
    "02",  # message_state DELIVERED
    "00",  # error_code
)

CASES: list[tuple[str, Pdu, bytes]] = [
    (
        "bind_transmitter",
        BindTransmitter(
            sequence=1,
            system_id="SMPP3TEST",
            password="secret08",
            system_type="SUBMIT1",
            interface_version=0x34,
            addr_ton=1,
            addr_npi=1,
            address_range="",
        ),
        BIND_TRANSMITTER,
    ),
    (
        "bind_receiver",
        BindReceiver(sequence=2, system_id="hongyan", password="pw"),
        BIND_RECEIVER,
    ),
    (
        "bind_transceiver",
        BindTransceiver(
            sequence=3,
            system_id="trx",
            system_type="VMA",
            addr_ton=2,
            addr_npi=9,
            address_range="1234",
        ),
        BIND_TRANSCEIVER,
    ),
    (
        "bind_transmitter_resp",
        BindTransmitterResp(sequence=1, system_id="SMSC"),
        BIND_TRANSMITTER_RESP,
    ),
    ("bind_receiver_resp", BindReceiverResp(sequence=2, system_id="SMSC"), BIND_RECEIVER_RESP),
    (
        "bind_transceiver_resp",
        BindTransceiverResp(
            sequence=3,
            system_id="SMSC",
            tlvs={Tag.SC_INTERFACE_VERSION: tlv_int(0x34, 1)},
        ),
        BIND_TRANSCEIVER_RESP,
    ),
    ("enquire_link", EnquireLink(sequence=7), ENQUIRE_LINK),
    ("enquire_link_resp", EnquireLinkResp(sequence=7), ENQUIRE_LINK_RESP),
    ("unbind", Unbind(sequence=9), UNBIND),
    ("unbind_resp", UnbindResp(sequence=9), UNBIND_RESP),
    (
        "generic_nack",
        GenericNack(sequence=11, status=CommandStatus.ESME_RINVCMDID),
        GENERIC_NACK,
    ),
    (
        "submit_sm",
        SubmitSm(
            sequence=5,
            source_addr_ton=5,
            source_addr="HONGYAN",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="8613800138000",
            registered_delivery=1,
            short_message=b"hello",
        ),
        SUBMIT_SM,
    ),
    (
        "submit_sm_tlvs",
        SubmitSm(
            sequence=6,
            service_type="CMT",
            source_addr="10690001",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="8613800138000",
            validity_period="000001000000000R",
            registered_delivery=1,
            data_coding=8,
            tlvs={
                Tag.SAR_MSG_REF_NUM: tlv_int(0x1234, 2),
                Tag.SAR_TOTAL_SEGMENTS: tlv_int(2, 1),
                Tag.SAR_SEGMENT_SEQNUM: tlv_int(1, 1),
                Tag.MESSAGE_PAYLOAD: "你好".encode("utf-16-be"),
            },
        ),
        SUBMIT_SM_TLVS,
    ),
    ("submit_sm_resp", SubmitSmResp(sequence=5, message_id="ABC123"), SUBMIT_SM_RESP),
    (
        "submit_sm_resp_error",
        SubmitSmResp(sequence=6, status=CommandStatus.ESME_RTHROTTLED),
        SUBMIT_SM_RESP_ERROR,
    ),
    (
        "deliver_sm_receipt",
        DeliverSm(
            sequence=33,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="8613800138000",
            dest_addr_ton=5,
            destination_addr="HONGYAN",
            esm_class=0x04,
            short_message=b"id:ABC123 stat:DELIVRD",
            tlvs={
                Tag.RECEIPTED_MESSAGE_ID: tlv_cstr("ABC123"),
                Tag.MESSAGE_STATE: tlv_int(MessageState.DELIVERED, 1),
            },
        ),
        DELIVER_SM_RECEIPT,
    ),
    ("deliver_sm_resp", DeliverSmResp(sequence=33), DELIVER_SM_RESP),
    (
        "data_sm",
        DataSm(
            sequence=16,
            source_addr_ton=5,
            source_addr="HONGYAN",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="8613800138000",
            registered_delivery=1,
            data_coding=3,
            tlvs={Tag.MESSAGE_PAYLOAD: b"Hi"},
        ),
        DATA_SM,
    ),
    ("data_sm_resp", DataSmResp(sequence=16, message_id="42"), DATA_SM_RESP),
    (
        "query_sm",
        QuerySm(sequence=17, message_id="ABC123", source_addr_ton=5, source_addr="HONGYAN"),
        QUERY_SM,
    ),
    (
        "query_sm_resp",
        QuerySmResp(
            sequence=17,
            message_id="ABC123",
            final_date="240101120100004+",
            message_state=MessageState.DELIVERED,
        ),
        QUERY_SM_RESP,
    ),
]


def test_the_fixtures_cover_every_pdu_type() -> None:
    assert {type(pdu) for _, pdu, _ in CASES} == set(PDU_CLASSES)


@pytest.mark.parametrize(("pdu", "fixture"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_encode_gives_the_spec_bytes(pdu: Pdu, fixture: bytes) -> None:
    assert int.from_bytes(fixture[:4], "big") == len(fixture)  # the fixture itself is sound
    assert encode(pdu) == fixture


@pytest.mark.parametrize(("pdu", "fixture"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decode_reads_the_spec_bytes(pdu: Pdu, fixture: bytes) -> None:
    decoded = decode(fixture)
    assert type(decoded) is type(pdu)
    assert decoded == pdu


def test_an_error_response_without_body_decodes_to_defaults() -> None:
    resp = decode(SUBMIT_SM_RESP_ERROR)
    assert isinstance(resp, SubmitSmResp) and resp.is_response
    assert (resp.status, resp.sequence, resp.message_id) == (0x58, 6, "")


def test_an_error_response_with_a_body_keeps_it() -> None:
    resp = SubmitSmResp(sequence=2, status=CommandStatus.ESME_RSUBMITFAIL, message_id="X")
    frame = encode(resp)
    assert frame[HEADER_SIZE:] == b"X\0"
    assert decode(frame) == resp


def test_receipt_tlvs_read_back() -> None:
    receipt = decode(DELIVER_SM_RECEIPT)
    assert read_cstr(receipt.tlvs, Tag.RECEIPTED_MESSAGE_ID) == "ABC123"
    assert read_int(receipt.tlvs, Tag.MESSAGE_STATE) == MessageState.DELIVERED
    assert read_int(receipt.tlvs, Tag.NETWORK_ERROR_CODE) is None
    assert read_cstr(receipt.tlvs, Tag.NETWORK_ERROR_CODE) is None


def test_sar_tlvs_read_back() -> None:
    segment = decode(SUBMIT_SM_TLVS)
    assert read_int(segment.tlvs, Tag.SAR_MSG_REF_NUM) == 0x1234
    assert read_int(segment.tlvs, Tag.SAR_TOTAL_SEGMENTS) == 2
    assert read_int(segment.tlvs, Tag.SAR_SEGMENT_SEQNUM) == 1
    assert segment.tlvs[Tag.MESSAGE_PAYLOAD].decode("utf-16-be") == "你好"


def test_tlv_helpers() -> None:
    assert tlv_int(0x1234, 2) == b"\x12\x34"
    assert tlv_int(1, 1) == b"\x01"
    assert tlv_int(7, 4) == b"\x00\x00\x00\x07"
    assert tlv_cstr("ABC") == b"ABC\0"
    assert read_cstr({1: b"ABC"}, 1) == "ABC"  # a peer that forgot the NUL
    assert read_cstr({1: b"AB\0junk"}, 1) == "AB"


@pytest.mark.parametrize(
    "pdu",
    [
        BindTransmitter(system_id="x" * 16),  # system_id is at most 15 + NUL
        BindTransmitter(password="x" * 9),
        SubmitSm(destination_addr="1" * 21),
        SubmitSm(source_addr="a\0b"),
        SubmitSm(short_message=b"x" * 255),  # sm_length is one octet, at most 254
        QuerySmResp(final_date="x" * 17),
    ],
)
def test_encode_refuses_a_field_the_spec_cannot_carry(pdu: Pdu) -> None:
    with pytest.raises(ValueError):
        encode(pdu)


def test_encode_accepts_fields_at_their_limit() -> None:
    pdu = SubmitSm(
        service_type="x" * 5,
        source_addr="1" * 20,
        destination_addr="2" * 20,
        short_message=b"m" * 254,
    )
    assert decode(encode(pdu)) == pdu


# -- malformed input ----------------------------------------------------------------


def _error(frame: bytes) -> PduError:
    with pytest.raises(PduError) as caught:
        decode(frame)
    return caught.value


@pytest.mark.parametrize("command_id", [0x00000007, 0x00000021, 0x12345678, 0x80000007])
def test_an_unknown_command_is_answered_with_generic_nack(command_id: int) -> None:
    err = _error(_frame(command_id, b"", sequence=42))
    assert err.status == CommandStatus.ESME_RINVCMDID
    assert (err.command_id, err.sequence) == (command_id, 42)
    assert err.answer_with_nack
    nack = response_to(err.command_id, err.sequence, err.status)
    assert encode(nack) == _hex("00000010", "80000000", "00000003", "0000002A")


def test_command_length_must_match_the_frame() -> None:
    longer = bytes.fromhex("00000011") + ENQUIRE_LINK[4:]
    err = _error(longer)
    assert err.status == CommandStatus.ESME_RINVCMDLEN
    assert (err.command_id, err.sequence) == (CommandId.ENQUIRE_LINK, 7)
    err = _error(SUBMIT_SM + b"\0")
    assert err.status == CommandStatus.ESME_RINVCMDLEN
    assert _error(SUBMIT_SM[:-1]).status == CommandStatus.ESME_RINVCMDLEN


def test_a_frame_shorter_than_a_header() -> None:
    err = _error(ENQUIRE_LINK[:15])
    assert err.status == CommandStatus.ESME_RINVCMDLEN
    assert err.answer_with_nack


def test_a_c_string_without_nul() -> None:
    err = _error(_frame(CommandId.BIND_TRANSMITTER, b"SMPP3TEST", sequence=3))
    assert err.status == CommandStatus.ESME_RINVMSGLEN
    assert (err.command_id, err.sequence) == (CommandId.BIND_TRANSMITTER, 3)
    assert not err.answer_with_nack


def test_mandatory_fields_cut_short() -> None:
    # bind_transmitter up to system_type: interface_version and the rest missing.
    body = BIND_TRANSMITTER[HEADER_SIZE:-4]
    err = _error(_frame(CommandId.BIND_TRANSMITTER, body))
    assert err.status == CommandStatus.ESME_RINVMSGLEN
    # submit_sm without sm_length.
    body = SUBMIT_SM[HEADER_SIZE:-6]
    assert _error(_frame(CommandId.SUBMIT_SM, body)).status == CommandStatus.ESME_RINVMSGLEN


def test_sm_length_past_the_end() -> None:
    body = bytearray(SUBMIT_SM[HEADER_SIZE:])
    assert body[-6] == 5  # sm_length
    body[-6] = 6
    err = _error(_frame(CommandId.SUBMIT_SM, bytes(body), sequence=5))
    assert err.status == CommandStatus.ESME_RINVMSGLEN
    assert not err.answer_with_nack


@pytest.mark.parametrize("tail", ["04", "0424", "042400"])
def test_a_truncated_tlv_header(tail: str) -> None:
    body = SUBMIT_SM[HEADER_SIZE:] + bytes.fromhex(tail)
    err = _error(_frame(CommandId.SUBMIT_SM, body))
    assert err.status == CommandStatus.ESME_RINVOPTPARSTREAM
    assert not err.answer_with_nack


def test_a_tlv_length_past_the_end() -> None:
    body = SUBMIT_SM[HEADER_SIZE:] + bytes.fromhex("0424 0005 4142")
    err = _error(_frame(CommandId.SUBMIT_SM, body))
    assert err.status == CommandStatus.ESME_RINVPARLEN
    assert not err.answer_with_nack


@pytest.mark.parametrize(
    "command_id",
    [CommandId.ENQUIRE_LINK, CommandId.UNBIND, CommandId.ENQUIRE_LINK_RESP, CommandId.GENERIC_NACK],
)
def test_a_body_where_none_belongs(command_id: int) -> None:
    err = _error(_frame(command_id, b"\0", sequence=8))
    assert err.status == CommandStatus.ESME_RINVCMDLEN
    assert err.sequence == 8


@pytest.mark.parametrize(
    ("frame", "response_class"),
    [
        (_frame(CommandId.SUBMIT_SM, b"\0\x05", sequence=77), SubmitSmResp),
        (_frame(CommandId.DELIVER_SM, b"no nul", sequence=77), DeliverSmResp),
        (_frame(CommandId.DATA_SM, b"\0\x05\x00", sequence=77), DataSmResp),
        (_frame(CommandId.QUERY_SM, b"ABC123\0", sequence=77), QuerySmResp),
        (_frame(CommandId.BIND_RECEIVER, b"x", sequence=77), BindReceiverResp),
        (_frame(CommandId.BIND_TRANSCEIVER, b"x\0y\0", sequence=77), BindTransceiverResp),
        (_frame(CommandId.BIND_TRANSMITTER, b"x\0", sequence=77), BindTransmitterResp),
        (_frame(CommandId.ENQUIRE_LINK, b"!", sequence=77), EnquireLinkResp),
        (_frame(CommandId.UNBIND, b"!", sequence=77), UnbindResp),
    ],
)
def test_a_malformed_known_request_gets_its_own_response(
    frame: bytes, response_class: type[Pdu]
) -> None:
    err = _error(frame)
    assert not err.answer_with_nack
    assert err.status != CommandStatus.ESME_ROK
    resp = response_to(err.command_id, err.sequence, err.status)
    assert type(resp) is response_class
    assert (resp.sequence, resp.status) == (77, err.status)
    # The error response goes out header only (§4.4.2) and reads back the same.
    wire = encode(resp)
    assert len(wire) == HEADER_SIZE
    assert decode(wire) == resp


def test_a_malformed_response_is_not_answered_with_its_own_response() -> None:
    err = _error(_frame(CommandId.SUBMIT_SM_RESP, b"ABC", sequence=4))
    assert err.status == CommandStatus.ESME_RINVMSGLEN
    assert err.answer_with_nack


def test_response_to_each_request() -> None:
    assert response_to(CommandId.ENQUIRE_LINK, 7) == EnquireLinkResp(sequence=7)
    assert encode(response_to(CommandId.ENQUIRE_LINK, 7)) == ENQUIRE_LINK_RESP
    assert encode(response_to(CommandId.UNBIND, 9)) == UNBIND_RESP
    assert encode(response_to(CommandId.DELIVER_SM, 33)) == DELIVER_SM_RESP
    assert response_to(CommandId.SUBMIT_SM, 6, 0x58) == SubmitSmResp(sequence=6, status=0x58)
    assert encode(response_to(CommandId.SUBMIT_SM, 6, 0x58)) == SUBMIT_SM_RESP_ERROR
    assert type(response_to(0x00000007, 1, 3)) is GenericNack


# -- framing --------------------------------------------------------------------------

FIXTURES = [fixture for _, _, fixture in CASES]
STREAM = b"".join(FIXTURES)


def test_frames_split_at_every_byte_come_out_whole() -> None:
    for cut in range(len(STREAM) + 1):
        framer = Framer()
        framer.feed(STREAM[:cut])
        got = framer.frames()
        framer.feed(STREAM[cut:])
        got += framer.frames()
        assert got == FIXTURES, cut
        assert framer.frames() == []


def test_frames_fed_one_byte_at_a_time() -> None:
    framer = Framer()
    got: list[bytes] = []
    for i in range(len(STREAM)):
        framer.feed(STREAM[i : i + 1])
        got += framer.frames()
    assert got == FIXTURES
    assert [decode(f) for f in got] == [pdu for _, pdu, _ in CASES]


def test_frames_glued_in_one_read() -> None:
    framer = Framer()
    framer.feed(STREAM + SUBMIT_SM[:10])
    assert framer.frames() == FIXTURES
    framer.feed(SUBMIT_SM[10:])
    assert framer.frames() == [SUBMIT_SM]


def test_fewer_than_four_octets_wait() -> None:
    framer = Framer()
    framer.feed(b"\x00\x00\x00")
    assert framer.frames() == []


@pytest.mark.parametrize("length", [0, 1, 15])
def test_a_command_length_under_a_header_is_fatal(length: int) -> None:
    framer = Framer()
    framer.feed(length.to_bytes(4, "big") + ENQUIRE_LINK[4:])
    with pytest.raises(FrameError):
        framer.frames()


@pytest.mark.parametrize("length", [MAX_PDU_SIZE + 1, 0x7FFFFFFF, 0xFFFFFFFF])
def test_a_command_length_over_64_kib_is_fatal(length: int) -> None:
    framer = Framer()
    framer.feed(ENQUIRE_LINK + length.to_bytes(4, "big"))
    with pytest.raises(FrameError):
        framer.frames()


def test_a_command_length_of_exactly_64_kib_is_awaited() -> None:
    assert MAX_PDU_SIZE == 64 * 1024
    framer = Framer()
    framer.feed(MAX_PDU_SIZE.to_bytes(4, "big") + bytes(12))
    assert framer.frames() == []
    framer.feed(bytes(MAX_PDU_SIZE - 16))
    assert [len(f) for f in framer.frames()] == [MAX_PDU_SIZE]


def test_a_bad_length_after_good_frames() -> None:
    """Frames before the bad length are dropped with the stream; it cannot be trusted."""
    framer = Framer()
    framer.feed(ENQUIRE_LINK)
    assert framer.frames() == [ENQUIRE_LINK]
    framer.feed(b"\x00\x00\x00\x05")
    with pytest.raises(FrameError):
        framer.frames()


# -- properties -------------------------------------------------------------------------

_latin1 = st.characters(min_codepoint=1, max_codepoint=255)


def _field(kind: int, size: int) -> st.SearchStrategy[object]:
    if kind == CSTR:
        return st.text(_latin1, max_size=size - 1)
    if kind == U8:
        return st.integers(0, 255)
    assert kind == OCTETS
    return st.binary(max_size=size)


@st.composite
def pdus(draw: st.DrawFn, classes: tuple[type[Pdu], ...] = PDU_CLASSES) -> Pdu:
    cls = draw(st.sampled_from(classes))
    kwargs: dict[str, object] = {
        "sequence": draw(st.integers(1, 0x7FFFFFFF)),
        "status": draw(st.one_of(st.just(0), st.integers(0, 0xFFFFFFFF))),
    }
    if cls.FIELDS:
        # Mostly-default field sets make the body-less error responses likely too.
        for name, kind, size in cls.FIELDS:
            if draw(st.booleans()):
                kwargs[name] = draw(_field(kind, size))
        kwargs["tlvs"] = draw(
            st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=300), max_size=4)
        )
    return cls(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(pdus())
def test_every_pdu_round_trips(pdu: Pdu) -> None:
    frame = encode(pdu)
    assert int.from_bytes(frame[:4], "big") == len(frame)
    assert decode(frame) == pdu


@settings(max_examples=100, deadline=None)
@given(st.lists(pdus(), min_size=1, max_size=6), st.data())
def test_a_stream_of_pdus_frames_and_decodes_in_order(
    pdu_list: list[Pdu], data: st.DataObject
) -> None:
    stream = b"".join(encode(p) for p in pdu_list)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    framer = Framer()
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        framer.feed(stream[start:cut])
        got += framer.frames()
        start = cut
    assert [decode(f) for f in got] == pdu_list


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_nothing_but_pdu_error(raw: bytes) -> None:
    try:
        decode(raw)
    except PduError:
        pass


_KNOWN_IDS = sorted(cls.command_id for cls in PDU_CLASSES)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_KNOWN_IDS),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=600),
)
def test_arbitrary_bodies_raise_nothing_but_pdu_error(
    command_id: int, status: int, sequence: int, body: bytes
) -> None:
    try:
        pdu = decode(_frame(command_id, body, status, sequence))
    except PduError as err:
        assert err.command_id == command_id
        assert err.sequence == sequence
        assert err.status in {
            CommandStatus.ESME_RINVCMDLEN,
            CommandStatus.ESME_RINVMSGLEN,
            CommandStatus.ESME_RINVOPTPARSTREAM,
            CommandStatus.ESME_RINVPARLEN,
        }
    else:
        assert pdu.command_id == command_id
        assert (pdu.status, pdu.sequence) == (status, sequence)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_the_framer_raises_nothing_but_frame_error(chunks: list[bytes]) -> None:
    framer = Framer()
    try:
        for chunk in chunks:
            framer.feed(chunk)
            for frame in framer.frames():
                assert HEADER_SIZE <= len(frame) <= MAX_PDU_SIZE
                assert int.from_bytes(frame[:4], "big") == len(frame)
    except FrameError:
        pass
