"""The SDK's answer parsers on bytes, from the spec's own examples and every error form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hongyan.client import (
    BEIJING,
    STAT_TEXTS,
    AuthFailed,
    BadScheduleTime,
    InsufficientBalance,
    Maintenance,
    NoChannel,
    Record,
    Reply,
    SmsApiError,
    SmsClient,
    StatusError,
    StatusReport,
    UnexpectedAnswer,
    api_password,
    errors,
)
from hongyan.client.calls import make_mobileid, server_time, split_mobiles
from hongyan.client.parse import (
    decode,
    parse_records,
    parse_remain,
    parse_replies,
    parse_reports,
    parse_send,
    parse_time,
    refusal,
)


def gbk(text: str) -> bytes:
    return text.encode("gbk")


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


# -- the spec's examples ----------------------------------------------------------------


def test_md5_example_of_the_spec() -> None:
    assert api_password("123123", "test") == "b9887c5ebb23ebb294acab183ecf0769"


def test_send_success_answer() -> None:
    assert parse_send(gbk("sms&stat=100&message=发送成功")) == "发送成功"


def test_reports_example_of_the_spec_with_its_blank_before_the_time() -> None:
    body = gbk(
        "18817660001,100,188176600011234556789, 2011-03-11 11:22:11\n"
        "18817660002,100,188176600021234556311, 2011-03-11 11:28:22"
    )
    assert parse_reports(body) == [
        StatusReport("18817660001", "100", "188176600011234556789", bj(2011, 3, 11, 11, 22, 11)),
        StatusReport("18817660002", "100", "188176600021234556311", bj(2011, 3, 11, 11, 28, 22)),
    ]
    assert all(r.delivered for r in parse_reports(body))


def test_replies_example_of_the_spec() -> None:
    body = gbk(
        "100{&}13912341234||短信测试回复||2008-05-27 12:10:11||1068112227282"
        "{&}15912343333||短信测试回复2||2009-05-27 13:11:11||106811222728200"
    )
    assert parse_replies(body) == [
        Reply("13912341234", "短信测试回复", bj(2008, 5, 27, 12, 10, 11), "1068112227282"),
        Reply("15912343333", "短信测试回复2", bj(2009, 5, 27, 13, 11, 11), "106811222728200"),
    ]


def test_remain_example_of_the_spec() -> None:
    assert parse_remain(b"sms&stat=100&remain=100") == 100  # balance and cmd=send alike


def test_records_form_of_the_spec() -> None:
    body = gbk(
        "3||2||2|#|2024-06-01 12:00:05||13900008888||您的验证码是 1234||100"
        "|#|2024-06-01 12:00:01||13900009999||第二条||UNDELIV"
    )
    page = parse_records(body, page=1)
    assert (page.total, page.pages, page.page, page.has_next) == (3, 2, 1, True)
    assert page.records == (
        Record(bj(2024, 6, 1, 12, 0, 5), "13900008888", "您的验证码是 1234", "100"),
        Record(bj(2024, 6, 1, 12, 0, 1), "13900009999", "第二条", "UNDELIV"),
    )
    assert page.records[0].delivered and not page.records[1].delivered


# -- empty answers ------------------------------------------------------------------------


def test_empty_bodies_mean_nothing() -> None:
    assert parse_reports(b"") == []
    assert parse_replies(b"") == []
    page = parse_records(b"", page=4)
    assert (page.total, page.pages, page.records, page.page, page.has_next) == (0, 0, (), 4, False)


def test_a_bare_100_from_rx_means_no_replies() -> None:
    assert parse_replies(b"100") == []


# -- texts as the server wrote them -------------------------------------------------------


def test_full_width_escapes_are_left_as_written() -> None:
    replies = parse_replies(
        gbk("100{&}13900008888||好的｜｜收到｛＆｝||2024-06-01 12:00:00||10690123")
    )
    assert replies[0].content == "好的｜｜收到｛＆｝"
    page = parse_records(gbk("1||1||1|#|2024-06-01 12:00:00||13900008888||a｜｜b｜#｜＃||0"))
    assert page.records[0].content == "a｜｜b｜#｜＃"
    assert page.records[0].pending


def test_unescaped_separators_inside_texts_are_read_back() -> None:
    body = gbk(
        "100{&}13900008888||a||b{&}c||2024-06-01 12:00:00||106901"
        "{&}13900009999||x||2024-06-01 12:00:01||106902"
    )
    assert [(r.mobile, r.content, r.gateway) for r in parse_replies(body)] == [
        ("13900008888", "a||b{&}c", "106901"),
        ("13900009999", "x", "106902"),
    ]
    page = parse_records(
        gbk(
            "2||2||1|#|2024-06-01 12:00:01||13900008888||p|#|q||r||100"
            "|#|2024-06-01 12:00:00||13900009999||s||0"
        )
    )
    assert [r.content for r in page.records] == ["p|#|q||r", "s"]


def test_a_line_break_inside_a_report_field_is_read_back() -> None:
    body = b"12\n34,112,ab1,2024-06-01 12:00:00\n13900008888,100,ab2,2024-06-01 12:00:01"
    assert [(r.mobile, r.status, r.mobileid) for r in parse_reports(body)] == [
        ("12\n34", "112", "ab1"),
        ("13900008888", "100", "ab2"),
    ]


def test_gbk_and_gb18030_bytes_are_decoded() -> None:
    body = "100{&}13900008888||𠀀 和 €||2024-06-01 12:00:00||10690".encode("gb18030")
    assert parse_replies(body)[0].content == "𠀀 和 €"


def test_undecodable_bytes_do_not_lose_the_batch() -> None:
    body = b"13900008888,100,a1,2024-06-01 12:00:00\n13900009999,\xff\xff,a2,2024-06-01 12:00:00"
    reports = parse_reports(body)
    assert [r.mobileid for r in reports] == ["a1", "a2"]
    assert "\ufffd" in reports[1].status


def test_line_ends_and_blanks_are_tolerated() -> None:
    body = (
        b"13900008888 , UNDELIV , id-1 , 2024-06-01 12:00\r\n"
        b"\r\n13900009999,MK:0001,x,20240601120001\r\n"
    )
    assert parse_reports(body) == [
        StatusReport("13900008888", "UNDELIV", "id-1", bj(2024, 6, 1, 12, 0)),
        StatusReport("13900009999", "MK:0001", "x", bj(2024, 6, 1, 12, 0, 1)),
    ]


def test_zone_none_keeps_the_server_wall_time() -> None:
    [report] = parse_reports(b"13900008888,100,a,2024-06-01 12:00:00", zone=None)
    assert report.time == datetime(2024, 6, 1, 12, 0)
    assert report.time.tzinfo is None
    assert parse_time("2024-06-01 12:00:00", UTC) == datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_sister_platform_balance_form() -> None:
    assert parse_remain(b"100||42") == 42
    assert parse_remain(b"sms&stat=100&remain=0\r\n") == 0


# -- every error form ------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(set(STAT_TEXTS) - {100}))
def test_every_stat_code_has_its_class(code: int) -> None:
    text = STAT_TEXTS[code]
    for parser in (parse_send, parse_remain, parse_reports, parse_records):
        with pytest.raises(StatusError) as caught:
            parser(gbk(f"sms&stat={code}&message={text}"))
        assert type(caught.value) is not StatusError
        assert type(caught.value).code == code
        assert (caught.value.stat, caught.value.message) == (code, text)
        assert str(caught.value) == f"{code} {text}"
    with pytest.raises(StatusError) as bare:
        parse_replies(str(code).encode())  # /rx/: the bare code, the text from the table
    assert type(bare.value).code == code
    assert bare.value.message == text


def test_the_tree_has_one_class_per_code_under_one_root() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, StatusError) and cls is not StatusError
    ]
    assert sorted(cls.code for cls in classes) == sorted(set(STAT_TEXTS) - {100})
    assert issubclass(StatusError, SmsApiError)
    assert issubclass(errors.TransportError, SmsApiError)
    assert issubclass(UnexpectedAnswer, SmsApiError)


def test_specific_errors() -> None:
    with pytest.raises(AuthFailed):
        parse_reports(gbk("sms&stat=101&message=验证失败"))
    with pytest.raises(InsufficientBalance):
        parse_send(gbk("sms&stat=102&message=短信不足"))
    with pytest.raises(BadScheduleTime):
        parse_replies(b"113")
    with pytest.raises(Maintenance):
        parse_records(gbk("sms&stat=120&message=系统升级"))
    with pytest.raises(NoChannel):
        parse_remain(gbk("sms&stat=115&message=连接失败"))


def test_the_server_message_is_kept_and_an_unknown_code_is_a_status_error() -> None:
    error = refusal("sms&stat=199&message=新的错误&详情")
    assert type(error) is StatusError
    assert (error.stat, error.message, str(error)) == (199, "新的错误&详情", "199 新的错误&详情")
    missing = refusal("sms&stat=101")
    assert isinstance(missing, AuthFailed)
    assert missing.message == "验证失败"
    assert refusal("sms&stat=100&message=发送成功") is None
    assert refusal("100") is None


@pytest.mark.parametrize(
    ("parser", "body"),
    [
        (parse_send, b"<html>502 Bad Gateway</html>"),
        (parse_send, b"ok"),
        (parse_remain, b"sms&stat=100&remain=lots"),
        (parse_remain, b"sms&stat=100&message=x"),
        (parse_reports, b"13900008888 100 a 2024-06-01"),
        (parse_reports, b"13900008888,100,a,yesterday"),
        (parse_replies, b"200{&}13900008888||x||2024-06-01 12:00:00||1"),
        (parse_replies, b"100{&}13900008888||x"),
        (parse_records, b"three||2||1|#|x"),
        (parse_records, b"1||1||1|#|2024-06-01 12:00:00||13900008888"),
    ],
)
def test_answers_in_no_known_form_keep_their_bytes(parser: object, body: bytes) -> None:
    with pytest.raises(UnexpectedAnswer) as caught:
        parser(body)  # type: ignore[operator]
    assert caught.value.body == body
    assert caught.value.stat is None


def test_decode_strips_bom_and_line_ends() -> None:
    assert decode("\ufeffsms&stat=100&remain=1\r\n".encode("gb18030")) == "sms&stat=100&remain=1"
    assert decode(b"sms&stat=100&remain=1\n") == "sms&stat=100&remain=1"


# -- requests ---------------------------------------------------------------------------


def test_numbers_are_split_as_the_server_does() -> None:
    assert split_mobiles(" 13900008888,，13900009999 ,\u3000") == ["13900008888", "13900009999"]
    assert split_mobiles(["13900008888", "13900009999,13900007777"]) == [
        "13900008888",
        "13900009999",
        "13900007777",
    ]


def test_made_up_ids_are_the_document_form_and_safe() -> None:
    assert make_mobileid("13900008888", 1717000000000) == "139000088881717000000000"
    made = make_mobileid("+86 139-0000 8888 (office)!", 1717000000000)
    assert made == "86139-00008888office1717000000000"
    assert len(make_mobileid("9" * 60, 1717000000000)) == 40


def test_times_are_sent_as_server_wall_time() -> None:
    utc = datetime(2024, 6, 1, 1, 0, tzinfo=UTC)
    assert server_time(utc, BEIJING, seconds=False) == "2024-06-01 09:00"
    assert server_time(utc, BEIJING) == "2024-06-01 09:00:00"
    assert server_time(datetime(2024, 6, 1, 9, 0, 30), BEIJING, seconds=False) == (
        "2024-06-01 09:00:30"
    )
    assert server_time(utc + timedelta(microseconds=5), None) == "2024-06-01 01:00:00"


def test_arguments_are_checked_before_sending() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SmsClient("http://x", "u")
    with pytest.raises(ValueError, match="exactly one"):
        SmsClient("http://x", "u", "p", pwd="0" * 32)
    with pytest.raises(ValueError, match="32 hex"):
        SmsClient("http://x", "u", pwd="secret")
    with pytest.raises(ValueError, match="http"):
        SmsClient("api.sms.cn", "u", "p")
    with SmsClient("http://x/", "test", pwd="B9887C5EBB23EBB294ACAB183ECF0769") as sms:
        assert "b9887c5e" not in repr(sms) and "B9887C5E" not in repr(sms)
        with pytest.raises(ValueError, match="2001 numbers"):
            sms.send([f"139{i:08d}" for i in range(2001)], "x")
        with pytest.raises(ValueError, match="1-based"):
            sms.records(page=0)
