"""GSM-7 and UCS2 on the wire, segments, UDH, and receipts read from deliver_sm."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hongyan.channels.smpp import receipt, text
from hongyan.channels.smpp.constants import Tag
from hongyan.channels.smpp.pdu import DeliverSm, tlv_cstr, tlv_int


def test_gsm7_packs_as_ts_23_038_shows() -> None:
    # "hello" packed: the classic example of 3GPP TS 23.038 septet packing.
    assert text.encode("hello", packed=True).octets == bytes.fromhex("e8329bfd06")
    assert text.encode("hello").octets == b"hello"  # unpacked: one septet an octet
    assert text.encode("€[").octets == bytes((0x1B, 0x65, 0x1B, 0x3C))  # escape pairs
    assert text.encode("你好").data_coding == 8
    assert text.encode("hello", gsm7=False).octets == "hello".encode("utf-16-be")


@given(st.text(alphabet=st.sampled_from(list("@£$¥èé\nAZaz09 !?{}[]€^|~\\§¿äöñüà")), max_size=200))
def test_gsm7_round_trips_packed_and_not(content: str) -> None:
    for packed in (False, True):
        octets = text.encode(content, packed=packed).octets
        decoded = text.decode(0, octets, packed=packed)
        # A packed text of 7k septets reads one padding "@" the spec drops.
        assert decoded == content or (packed and decoded == content.rstrip("@"))


@pytest.mark.parametrize(
    ("data_coding", "octets", "expected"),
    [
        (0x00, b"caf\x05", "café"),  # the SMSC default alphabet: GSM-7
        (0x01, b"cafe", "cafe"),  # IA5
        (0x03, b"caf\xe9", "café"),  # Latin-1
        (0x08, "好".encode("utf-16-be"), "好"),
        (0x0F, "好".encode("gbk"), "好"),
        (0x10, b"caf\x05", "café"),  # GSM 03.38 general group, class 0, GSM-7
        (0x11, b"caf\x05", "café"),
        (0x18, "好".encode("utf-16-be"), "好"),  # general group, class 0, UCS2
        (0x14, b"caf\x05", "caf\x05"),  # general group, 8-bit data: as the octets are
        (0x30, b"caf\x05", "caf\x05"),  # compressed: not decoded
        (0x40, b"caf\x05", "café"),  # automatic deletion group, GSM-7
        (0x48, "好".encode("utf-16-be"), "好"),  # automatic deletion group, UCS2
        (0x90, b"caf\x05", "caf\x05"),  # reserved: as the octets are
        (0xC8, b"caf\x05", "café"),  # message waiting, GSM-7
        (0xE8, "好".encode("utf-16-be"), "好"),  # message waiting, UCS2
        (0xF0, b"caf\x05", "café"),  # message class 0, GSM-7
        (0xF5, b"caf\x05", "caf\x05"),  # message class 1, 8-bit data
    ],
)
def test_data_coding_picks_the_alphabet(data_coding: int, octets: bytes, expected: str) -> None:
    assert text.decode(data_coding, octets) == expected


@pytest.mark.parametrize(
    ("content", "mode", "sizes"),
    [
        ("a" * 160, "udh8", [160]),
        ("a" * 161, "udh8", [153, 8]),
        ("a" * 161, "udh16", [152, 9]),
        ("a" * 161, "sar", [160, 1]),
        ("a" * 400, "payload", [400]),
        ("中" * 70, "udh8", [70]),
        ("中" * 71, "udh8", [67, 4]),
        ("中" * 71, "udh16", [66, 5]),
        ("€" * 81, "udh8", [76, 5]),  # an escape pair counts two septets
    ],
)
def test_segments_fit_one_sms_each(content: str, mode: text.SplitMode, sizes: list[int]) -> None:
    assert [len(part) for part in text.segments(content, mode)] == sizes


def test_a_surrogate_pair_is_never_cut() -> None:
    parts = text.segments("中" * 66 + "😀" + "中" * 10, "udh8")  # 78 UTF-16 units
    assert parts[0] == "中" * 66 and parts[1].startswith("😀")


def test_concatenation_udh_both_widths() -> None:
    assert text.concat_udh(0x1234, 3, 2) == bytes.fromhex("050003340302")
    assert text.concat_udh(0x1234, 3, 2, wide=True) == bytes.fromhex("06080412340302")
    concat, rest, size = text.split_udh(bytes.fromhex("06080412340302") + b"xy")
    assert (concat, rest, size) == (text.Concat(0x1234, 3, 2), b"xy", 7)
    assert text.split_udh(b"\x09\x00") == (None, b"\x09\x00", 0)  # a header past the end


@pytest.mark.parametrize(
    ("raw", "base", "canonical"),
    [
        ("1A2B", "hex", "1a2b"),
        ("001a2b", "hex", "1a2b"),
        ("6699", "dec", "1a2b"),  # the same id, in decimal
        ("0006699", "dec", "1a2b"),
        ("AbC-01", "text", "abc-01"),
        ("000", "text", "0"),
        ("not-hex", "hex", "not-hex"),
    ],
)
def test_ids_are_normalised(raw: str, base: receipt.IdBase, canonical: str) -> None:
    assert receipt.canonical_id(raw, base) == canonical


def receipt_pdu(body: str, **tlvs: bytes) -> DeliverSm:
    return DeliverSm(
        esm_class=0x04,
        short_message=body.encode(),
        tlvs={Tag[name.upper()]: value for name, value in tlvs.items()},
    )


def test_receipt_text_is_read_per_appendix_b() -> None:
    pdu = receipt_pdu(
        "id:0000006699 sub:001 dlvrd:000 submit date:2611251200 done date:2611251201 "
        "stat:UNDELIV err:034 text:id:1 stat:DELIVRD"
    )
    parsed = receipt.parse(pdu, "hex", "dec")
    assert parsed == receipt.ParsedReceipt("1a2b", "UNDELIV", "034")
    assert parsed.final and parsed.status == "UNDELIV"


def test_receipt_tlvs_win_over_the_text() -> None:
    pdu = receipt_pdu(
        "id:6699 stat:UNDELIV",
        receipted_message_id=tlv_cstr("1A2B"),
        message_state=tlv_int(2, 1),
    )
    parsed = receipt.parse(pdu, "hex", "dec")
    assert parsed is not None and (parsed.upstream_id, parsed.status) == ("1a2b", "100")


def test_non_final_and_unnamed_receipts() -> None:
    enroute = receipt.parse(receipt_pdu("id:1 stat:ENROUTE"))
    assert enroute is not None and not enroute.final
    assert receipt.parse(receipt_pdu("stat:DELIVRD")) is None
    assert receipt.is_receipt(receipt_pdu("id:1"))
    assert not receipt.is_receipt(DeliverSm(short_message=b"a reply"))
