import pytest

from hongyan.core.credentials import api_key_digest, api_password, api_password_matches
from hongyan.logs import redact_query
from hongyan.protocol import render
from hongyan.protocol.params import (
    BadParams,
    Params,
    choose_encoding,
    collect,
    parse_multipart,
    parse_pairs,
)
from hongyan.protocol.stat import Stat


def test_spec_md5_example() -> None:
    # spec §1.1: pwd = md5("123123" + "test")
    assert api_password("123123", "test") == "b9887c5ebb23ebb294acab183ecf0769"


def test_pwd_is_checked_against_an_hmac_in_either_case() -> None:
    stored = api_key_digest("secret", "b9887c5ebb23ebb294acab183ecf0769")
    assert stored != "b9887c5ebb23ebb294acab183ecf0769"
    assert api_password_matches("secret", "B9887C5EBB23EBB294ACAB183ECF0769", stored)
    assert not api_password_matches("other", "b9887c5ebb23ebb294acab183ecf0769", stored)
    assert not api_password_matches("secret", "密码", stored)


def test_spec_content_example_decodes_as_gbk_by_default() -> None:
    pairs = parse_pairs(b"content=%B7%A2%CB%CD%B2%E2%CA%D4")
    assert Params(pairs, choose_encoding(pairs)).text("content") == "发送测试"


def test_percent_decoding_is_on_bytes_with_plus_as_space_and_raw_bytes_kept() -> None:
    raw_gbk = "发送".encode("gbk")
    pairs = parse_pairs(b"a=x+y%2B&b=" + raw_gbk + b"&UID=t&&=nameless&flag")
    assert pairs == {b"a": b"x y+", b"b": raw_gbk, b"uid": b"t", b"flag": b""}


@pytest.mark.parametrize("value", [b"utf8", b"UTF-8", b"Utf8", b" utf-8 "])
def test_encode_utf8_spellings(value: bytes) -> None:
    assert choose_encoding({b"encode": value}) == "utf-8"


def test_gbk_is_read_as_gb18030_and_mtutf8_implies_utf8() -> None:
    assert choose_encoding({b"encode": b"gbk"}) == "gb18030"
    assert choose_encoding({b"encode": b"gbk"}, utf8_implied=True) == "utf-8"


def test_body_wins_over_query_string() -> None:
    pairs = collect(b"uid=q&mobile=1", b"uid=b", b"application/x-www-form-urlencoded")
    assert pairs == {b"uid": b"b", b"mobile": b"1"}


def test_a_body_with_a_lying_content_type_is_still_read() -> None:
    assert collect(b"", b"uid=b", b"text/plain; charset=utf-8") == {b"uid": b"b"}


def test_multipart_fields_are_raw_bytes() -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="content"\r\n\r\n'
        + "发送".encode("gbk")
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="Mobile"\r\n\r\n13900008888'
        + b"\r\n--XX--\r\n"
    )
    fields = parse_multipart(body, b"multipart/form-data; boundary=XX")
    assert fields == {b"content": "发送".encode("gbk"), b"mobile": b"13900008888"}


def test_multipart_without_boundary_is_unreadable() -> None:
    with pytest.raises(BadParams):
        parse_multipart(b"x", b"multipart/form-data")


def test_answers() -> None:
    assert render.encode(render.message_answer(Stat.OK)) == "sms&stat=100&message=发送成功".encode(
        "gbk"
    )
    assert render.remain_answer(100) == "sms&stat=100&remain=100"
    assert render.records_answer(0, 0, []) == ""
    line = ("2011-03-11 11:22:11", "13900008888", "a||b|#|c", "100")
    assert render.records_answer(1, 1, [line]) == (
        "1||1||1|#|2011-03-11 11:22:11||13900008888||a｜｜b｜#｜c||100"
    )
    assert render.escape_reply_field("x||y{&}z") == "x｜｜y｛＆｝z"
    assert render.encode("😀好") == b"?" + "好".encode("gbk")


def test_every_stat_has_its_spec_text() -> None:
    assert Stat.ACCOUNT_LOCKED.text == "账号被锁，10分钟后登录"
    assert all(stat.text for stat in Stat)


def test_query_strings_are_redacted_for_logs() -> None:
    assert redact_query(b"uid=a&pwd=abc&content=x") == "uid=a&pwd=***&content=x"
    assert redact_query(b"PWD=abc&password=p&api_secret=s") == "PWD=***&password=***&api_secret=***"
