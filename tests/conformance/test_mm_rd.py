"""/mm/ (spec §7, §8) and /rd/ (spec §10): answers, paging, filters, escaping."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.conformance.support import (
    BEIJING,
    OK,
    answer,
    beijing,
    call,
    mobiles,
    parse_records,
    records,
    remain_answer,
    send,
    stored,
)
from tests.conftest import RunningServer

# -- /mm/ -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_mm_remain_and_sent(server: RunningServer, method: str) -> None:
    customer = server.customer(balance=37)
    assert call(server, "/mm/", customer.auth(), method=method).content == remain_answer(37)
    sent = {**customer.auth(), "cmd": "send"}
    assert call(server, "/mm/", sent, method=method).content == remain_answer(0)

    assert send(server, customer, mobile=",".join(mobiles(3)), content="x" * 71).content == OK

    assert call(server, "/mm/", customer.auth(), method=method).content == remain_answer(31)
    assert call(server, "/mm/", sent, method=method).content == remain_answer(6)


def test_mm_follows_topups(server: RunningServer) -> None:
    customer = server.customer(balance=0)
    assert server.get("/mm/", customer.auth()).content == b"sms&stat=100&remain=0"
    server.operate(lambda op: op.topup(customer.uid, 250, "conformance"))
    assert server.get("/mm/", customer.auth()).content == b"sms&stat=100&remain=250"


def test_mm_answer_has_exactly_three_fields(server: RunningServer) -> None:
    customer = server.customer(balance=5)
    body = server.get("/mm/", customer.auth()).content
    assert body.split(b"&") == [b"sms", b"stat=100", b"remain=5"]


# -- /rd/ -----------------------------------------------------------------------------

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_rd_empty_body_when_there_are_none(server: RunningServer, method: str) -> None:
    customer = server.customer()
    response = call(server, "/rd/", customer.auth(), method=method)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_rd_record_fields(server: RunningServer) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    before = beijing().replace(microsecond=0)
    assert send(server, customer, mobile=number, content="发送测试").content == OK
    after = beijing()

    body = server.get("/rd/", customer.auth()).content.decode("gbk")

    match = re.fullmatch(rf"1\|\|1\|\|1\|#\|({STAMP.pattern})\|\|{number}\|\|发送测试\|\|0", body)
    assert match, body
    # The send time, in Beijing time.
    sent_at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=before.tzinfo)
    assert before - timedelta(seconds=1) <= sent_at <= after + timedelta(seconds=1)


def test_rd_fifty_a_page_newest_first(server: RunningServer) -> None:
    customer = server.customer()
    first, second = mobiles(30), mobiles(21)
    assert send(server, customer, method="POST", mobile=",".join(first), content="早").content == OK
    assert (
        send(server, customer, method="POST", mobile=",".join(second), content="晚").content == OK
    )

    page1 = records(server, customer)
    assert (page1.total, page1.count, page1.pages) == (51, 50, 2)
    assert records(server, customer, page="1") == page1
    assert [r.content for r in page1.records] == ["晚"] * 21 + ["早"] * 29
    assert {r.mobile for r in page1.records[:21]} == set(second)

    page2 = records(server, customer, page="2")
    assert (page2.total, page2.count, page2.pages) == (51, 1, 2)
    assert page2.records[0].content == "早"
    assert {r.mobile for r in page1.records[21:] + page2.records} == set(first)

    assert server.get("/rd/", {**customer.auth(), "page": "3"}).content == b""


@pytest.mark.parametrize("page", ["3", "1000000", str(10**20)])
def test_rd_page_past_the_end_is_empty(server: RunningServer, page: str) -> None:
    """无回复内容时返回空: a page with no records is an empty body, however far out."""
    customer = server.customer()
    assert send(server, customer, mobile=mobiles(1)[0], content="x").content == OK
    assert server.get("/rd/", {**customer.auth(), "page": page}).content == b""


def test_rd_exactly_fifty(server: RunningServer) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=",".join(mobiles(50)), content="x").content == OK
    page = records(server, customer)
    assert (page.total, page.count, page.pages) == (50, 50, 1)
    assert server.get("/rd/", {**customer.auth(), "page": "2"}).content == b""


def test_rd_newest_first_across_requests(server: RunningServer) -> None:
    customer = server.customer()
    for word in ("一", "二", "三"):
        assert send(server, customer, mobile=mobiles(1)[0], content=word).content == OK
    assert [r.content for r in records(server, customer).records] == ["三", "二", "一"]


def test_rd_date(server: RunningServer) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=",".join(mobiles(2)), content="x").content == OK
    sent_at = datetime.fromtimestamp(stored(server, customer)[0]["created_at"] / 1000, BEIJING)

    page = records(server, customer, date=sent_at.strftime("%Y-%m-%d"))

    assert (page.total, page.count, page.pages) == (2, 2, 1)
    assert all(r.time.startswith(sent_at.strftime("%Y-%m-%d")) for r in page.records)
    for other_day in (sent_at - timedelta(days=1), sent_at + timedelta(days=1)):
        params = {**customer.auth(), "date": other_day.strftime("%Y-%m-%d")}
        assert server.get("/rd/", params).content == b""
    assert server.get("/rd/", {**customer.auth(), "date": "2012-12-12"}).content == b""


@pytest.mark.parametrize("written", ["{n}", "+86{n}", "0086{n}", "86{n}"])
def test_rd_key(server: RunningServer, written: str) -> None:
    customer = server.customer()
    number, other = mobiles(2)
    assert send(server, customer, mobile=f"{number},{other}", content="一").content == OK
    assert send(server, customer, mobile=number, content="二").content == OK

    page = records(server, customer, key=written.format(n=number))

    assert (page.total, page.count, page.pages) == (2, 2, 1)
    assert [(r.mobile, r.content) for r in page.records] == [(number, "二"), (number, "一")]
    assert server.get("/rd/", {**customer.auth(), "key": mobiles(1)[0]}).content == b""


def test_rd_key_and_date_together(server: RunningServer) -> None:
    customer = server.customer()
    number, other = mobiles(2)
    assert send(server, customer, mobile=f"{number},{other}", content="x").content == OK
    day = stored(server, customer)[0]["created_at"]
    date = datetime.fromtimestamp(day / 1000, BEIJING).strftime("%Y-%m-%d")
    page = records(server, customer, key=other, date=date)
    assert [r.mobile for r in page.records] == [other]
    assert (
        server.get("/rd/", {**customer.auth(), "key": other, "date": "2012-12-12"}).content == b""
    )


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("a||b", "a｜｜b"),
        ("a|#|b", "a｜#｜b"),
        ("前||中|#|后", "前｜｜中｜#｜后"),
        ("a|b#c", "a|b#c"),  # single bars are left alone
    ],
)
def test_rd_separators_inside_content_are_written_full_width(
    server: RunningServer, content: str, shown: str
) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    assert send(server, customer, method="POST", mobile=number, content=content).content == OK

    body = server.get("/rd/", customer.auth()).content
    assert parse_records(body).records[0].content == shown
    assert body.decode("gbk").endswith(f"||{number}||{shown}||0")
    # The stored text is the client's.
    assert [row["content"] for row in stored(server, customer)] == [content]


@pytest.mark.parametrize("encode", ["utf8", "gbk"])
def test_rd_answers_gbk_whatever_encode_says(server: RunningServer, encode: str) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=mobiles(1)[0], content="发送测试").content == OK
    response = server.get("/rd/", {**customer.auth(), "encode": encode})
    assert "发送测试".encode("gbk") in response.content
    assert response.headers["content-type"] == "text/plain; charset=GBK"


def test_rd_multi_line_content(server: RunningServer) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=mobiles(1)[0], content="一行\n二行").content == OK
    assert records(server, customer).records[0].content == "一行\n二行"


def test_rd_error_answers(server: RunningServer) -> None:
    customer = server.customer()
    wrong = {"uid": customer.uid, "pwd": "0" * 32}
    assert server.get("/rd/", wrong).content == answer(101)
    assert server.get("/mm/", wrong).content == answer(101)
