"""Every example of the original document (000_312d14962cb3ca1f.txt), byte for byte."""

from __future__ import annotations

import hashlib
import re

from hongyan.core.credentials import api_password
from tests.conformance.support import (
    OK,
    balance,
    raw_request,
    records,
    remain_answer,
    send,
    stored,
)
from tests.conftest import RunningServer

SPEC_PWD = "b9887c5ebb23ebb294acab183ecf0769"

# §4's example request, as the document writes it (less the stray blank before
# the content, which no HTTP client can send in a request line).
SPEC_SEND = (
    b"/mt/?uid=test&pwd=b9887c5ebb23ebb294acab183ecf0769"
    b"&mobile=13900008888,1390000test,13100006666"
    b"&mobileids=1390000888812869461937,1390000test12869461937,1310000666612869461937"
    b"&content=%B7%A2%CB%CD%B2%E2%CA%D4"
)


def test_password_example_md5() -> None:
    """§1.1: pwd = md5(login password + uid) = md5("123123test")."""
    assert hashlib.md5(b"123123test").hexdigest() == SPEC_PWD
    assert api_password("123123", "test") == SPEC_PWD


def test_success_answer_is_the_documents_gbk_bytes() -> None:
    expected = "sms&stat=100&message=发送成功".encode("gbk")
    assert expected == b"sms&stat=100&message=\xb7\xa2\xcb\xcd\xb3\xc9\xb9\xa6"
    assert expected == OK


def test_send_example_of_the_document(server: RunningServer) -> None:
    """§4: three numbers, one of them invalid, with mobileids; GBK content 发送测试."""
    customer = server.customer(uid="test", password="123123", balance=100)
    assert customer.pwd == SPEC_PWD

    status, headers, body = server.raw(raw_request("GET", SPEC_SEND))
    assert headers["content-length"] == str(len(body))

    assert status == 200
    assert body == OK
    # The two valid numbers are sent and charged; the invalid one is neither.
    assert balance(server, customer) == 98
    assert balance(server, customer, sent=True) == 2
    page = records(server, customer)
    assert (page.total, page.count, page.pages) == (3, 3, 1)
    assert {(r.mobile, r.content, r.status) for r in page.records} == {
        ("13900008888", "发送测试", "0"),
        ("1390000test", "发送测试", "112"),
        ("13100006666", "发送测试", "0"),
    }
    # mobileids are matched to the numbers by position.
    assert {row["mobile"]: row["mobileid"] for row in stored(server, customer)} == {
        "13900008888": "1390000888812869461937",
        "1390000test": "1390000test12869461937",
        "13100006666": "1310000666612869461937",
    }


def test_balance_example(server: RunningServer) -> None:
    """§7: `sms&stat=100&remain=100`; §8 (cmd=send) `sms&stat=100&remain=<sent>`."""
    customer = server.customer(balance=100)
    assert server.get("/mm/", customer.auth()).content == b"sms&stat=100&remain=100"
    assert server.get("/mm/", {**customer.auth(), "cmd": "send"}).content == remain_answer(0)

    assert send(server, customer, mobile="13900008888,13100006666", content="你好").content == OK

    assert server.get("/mm/", customer.auth()).content == b"sms&stat=100&remain=98"
    assert server.get("/mm/", {**customer.auth(), "cmd": "send"}).content == remain_answer(2)


def test_records_example(server: RunningServer) -> None:
    """§10: `总记录数||当前记录数||总页数|#|发送时间||号码||内容||状态|#|...`."""
    customer = server.customer()
    assert server.get("/rd/", customer.auth()).content == b""  # 无回复内容时返回空

    assert send(server, customer, mobile="13900008888", content="发送测试").content == OK
    assert send(server, customer, mobile="13100006666", content="第二条").content == OK

    body = server.get("/rd/", {**customer.auth(), "page": "1"}).content.decode("gbk")
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(
        rf"2\|\|2\|\|1\|#\|{stamp}\|\|13100006666\|\|第二条\|\|0"
        rf"\|#\|{stamp}\|\|13900008888\|\|发送测试\|\|0",
        body,
    ), body
