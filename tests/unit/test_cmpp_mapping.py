"""Between our records and CMPP PDUs (channels/cmpp/mapping.py, text.py), no sockets."""

from __future__ import annotations

import pytest

from hongyan.channels.base import InboundFragment, InboundReply, Part, Receipt
from hongyan.channels.cmpp import codec, mapping, text
from hongyan.channels.cmpp.pdu import V2, V3, Deliver, MsgFmt, StatusReport
from hongyan.channels.cmpp.settings import CmppSettings

SETTINGS = CmppSettings(
    name="cmcc",
    sp_id="901234",
    secret="s3cret",
    src_id="1069012",
    service_id="MHY0019901",
    fee_type="02",
    fee_code="000010",
    dest_prefix="86",
)
CHINESE = "鸿雁传书，" * 20  # 100 characters


def part(text: str, seq: int = 1, total: int = 1) -> Part:
    return Part(
        message_id=0x1234,
        seq=seq,
        total=total,
        destination="13800138000",
        source="10690000" + "0017",
        text=text,
        extension="0017",
    )


def test_segments_by_coding() -> None:
    assert text.segments("a" * 140, "ucs2") == ["a" * 140]
    assert [len(s) for s in text.segments("a" * 141, "ucs2")] == [134, 7]
    assert text.segments("好" * 70, "ucs2") == ["好" * 70]
    assert [len(s) for s in text.segments("好" * 71, "ucs2")] == [67, 4]
    # GBK: two octets a Chinese character, one an ASCII one, 140 / 134 octets.
    assert [len(s) for s in text.segments("好" * 71, "gbk")] == [67, 4]
    assert text.segments("好a" * 46 + "好", "gbk") == ["好a" * 46 + "好"]  # 140 octets
    # What GBK cannot write goes as UCS2, and a character past U+FFFF is never cut.
    emoji = "😀" * 36  # 144 octets in UCS2
    cut = text.segments(emoji, "gbk")
    assert "".join(cut) == emoji and all(len(s.encode("utf-16-be")) <= 134 for s in cut)


def test_encode_and_decode_each_format() -> None:
    assert text.encode("hello", "ucs2") == (MsgFmt.ASCII, b"hello")
    assert text.encode("你好", "ucs2") == (MsgFmt.UCS2, "你好".encode("utf-16-be"))
    assert text.encode("你好", "gbk") == (MsgFmt.GBK, "你好".encode("gbk"))
    assert text.encode("你好😀", "gbk") == (MsgFmt.UCS2, "你好😀".encode("utf-16-be"))
    assert text.decode(MsgFmt.UCS2, "你好".encode("utf-16-be")) == "你好"
    assert text.decode(MsgFmt.GBK, "你好".encode("gbk")) == "你好"
    assert text.decode(MsgFmt.ASCII, b"ok") == "ok"
    assert text.decode(MsgFmt.UCS2, b"\x4f\x60\x59") == "你"  # an odd octet is dropped


def test_submit_carries_the_settings_and_the_extension() -> None:
    pdu = mapping.submit(part("你好"), SETTINGS, gateway_prefix="10690000")
    assert pdu.src_id == "10690120017"  # the carrier's access number + the extension
    assert pdu.dest_terminal_ids == ["8613800138000"]
    assert (pdu.service_id, pdu.fee_type, pdu.fee_code) == ("MHY0019901", "02", "000010")
    assert (pdu.msg_src, pdu.fee_user_type, pdu.registered_delivery) == ("901234", 2, 1)
    assert (pdu.pk_total, pdu.pk_number, pdu.tp_udhi) == (1, 1, 0)
    assert (pdu.msg_fmt, pdu.msg_content) == (MsgFmt.UCS2, "你好".encode("utf-16-be"))
    # Without src_id, the platform's own gateway number.
    bare = SETTINGS.model_copy(update={"src_id": "", "append_extension": True})
    assert mapping.submit(part("x"), bare, "10690000").src_id == "106900000017"


def test_long_message_part_has_udh_and_pk_fields() -> None:
    segment = text.segments(CHINESE, "ucs2")[1]
    pdu = mapping.submit(part(segment, seq=2, total=2), SETTINGS, "")
    assert (pdu.pk_total, pdu.pk_number, pdu.tp_udhi) == (2, 2, 1)
    assert pdu.msg_content[:6] == bytes((5, 0, 3, 0x34, 2, 2))
    assert pdu.msg_content[6:].decode("utf-16-be") == segment
    assert len(pdu.msg_content) <= 140


@pytest.mark.parametrize("version", [V2, V3])
@pytest.mark.parametrize(("stat", "status"), [("DELIVRD", "100"), ("MK:0001", "MK:0001")])
def test_status_report_becomes_a_receipt(version: int, stat: str, status: str) -> None:
    report = StatusReport(msg_id=0x1122334455667788, stat=stat, dest_terminal_id="8613800138000")
    pdu = Deliver(registered_delivery=1, msg_content=codec.encode_report(report, version))
    item = mapping.inbound(pdu, SETTINGS, "10690000", now=5)
    assert item == Receipt(str(0x1122334455667788), status, 5)


def test_unreadable_status_report_is_none() -> None:
    pdu = Deliver(registered_delivery=1, msg_content=b"short")
    assert mapping.inbound(pdu, SETTINGS, "10690000", now=5) is None


def test_reply_is_routed_by_its_extension() -> None:
    pdu = Deliver(
        dest_id="10690120017",
        src_terminal_id="+8613800138000",
        msg_fmt=MsgFmt.UCS2,
        msg_content="好的".encode("utf-16-be"),
    )
    item = mapping.inbound(pdu, SETTINGS, "10690000", now=7)
    assert item == InboundReply("13800138000", "106900000017", "好的", 7)


def test_part_of_a_long_reply_is_a_fragment() -> None:
    pdu = Deliver(
        dest_id="10690120017",
        src_terminal_id="13800138000",
        tp_udhi=1,
        msg_fmt=MsgFmt.GBK,
        msg_content=bytes((5, 0, 3, 9, 3, 2)) + "第二段".encode("gbk"),
    )
    item = mapping.inbound(pdu, SETTINGS, "10690000", now=7)
    assert item == InboundFragment("13800138000", "106900000017", 9, 3, 2, "第二段", 7)


def test_result_words_fit_the_status_column() -> None:
    assert mapping.result_word(13) == "CMPP_DEST_TERMINAL"
    assert mapping.result_word(8) == "CMPP_FLOW_CONTROL"
    assert mapping.result_word(200) == "CMPP_RESULT_200"
    assert mapping.result_word(13, V2) == "CMPP_RESULT_13"  # 2.0: "other error"
    assert mapping.result_word(8, V2) == "CMPP_FLOW_CONTROL"
    assert all(len(mapping.result_word(n)) <= 20 for n in range(256))
