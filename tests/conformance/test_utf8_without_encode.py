"""UTF-8 text sent without `encode=utf8` (PROTOCOL.md "Transport", deliberate
extension): read as UTF-8, stored as sent and charged by its real length,
where it used to be read as GB18030, stored garbled and charged for the
garbage. `encode=gbk` given explicitly still means GB18030."""

from __future__ import annotations

import pytest

from tests.conformance.support import OK, call, mobiles, raw_request, stored
from tests.conftest import RunningServer

# 70 characters: one part. Read as GB18030, its 184 UTF-8 bytes were 101
# characters of garbage: two parts.
CODE = (
    "【鸿雁科技】您的验证码是834921，5分钟内有效，请勿泄露给他人。"
    "如非本人操作，请忽略本短信，谢谢！祝您生活愉快！客服热线：400123。"
)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_utf8_content_without_encode_is_stored_and_charged_as_sent(
    server: RunningServer, method: str
) -> None:
    assert len(CODE) == 70
    customer = server.customer()
    params = {**customer.auth(), "mobile": mobiles(1)[0], "content": CODE}
    response = call(server, "/mt/", params, method=method, charset="utf-8")
    assert response.content == OK
    [row] = stored(server, customer)
    assert (row["content"], row["charged"]) == (CODE, 1)


def test_raw_utf8_bytes_in_the_url_without_encode(server: RunningServer) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    target = f"/mt/?uid={customer.uid}&pwd={customer.pwd}&mobile={number}&content=".encode()
    status, _, body = server.raw(raw_request("GET", target + "好的，明天见".encode()))
    assert (status, body) == (200, OK)
    assert [row["content"] for row in stored(server, customer)] == ["好的，明天见"]


def test_explicit_gbk_is_not_second_guessed(server: RunningServer) -> None:
    customer = server.customer()
    params = {**customer.auth(), "mobile": mobiles(1)[0], "content": "您好", "encode": "gbk"}
    assert call(server, "/mt/", params, method="POST", charset="utf-8").content == OK
    assert [row["content"] for row in stored(server, customer)] == ["鎮ㄥソ"]


def test_gbk_that_is_also_valid_utf8_stays_gbk(server: RunningServer) -> None:
    """谢谢 in GBK is D0 BB D0 BB, which is "лл" in UTF-8."""
    customer = server.customer()
    params = {**customer.auth(), "mobile": mobiles(1)[0], "content": "谢谢"}
    assert call(server, "/mt/", params, method="POST", charset="gbk").content == OK
    assert [row["content"] for row in stored(server, customer)] == ["谢谢"]
