"""Every stat code of /mt/ that depends on the request itself, through real HTTP.

The account gates (101, 109, 111, 114, 116, 117, 120) are in test_gates.py.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from tests.conformance.support import (
    BEIJING,
    METHOD_ENCODINGS,
    OK,
    answer,
    balance,
    beijing,
    call,
    charset_of,
    mobiles,
    records,
    send,
    statuses,
    stored,
)
from tests.conftest import RunningServer

# -- 100 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_100_send(server: RunningServer, method: str, encoding: str) -> None:
    customer = server.customer(balance=10)
    number = mobiles(1)[0]

    response = send(
        server, customer, method=method, encoding=encoding, mobile=number, content="发送测试"
    )

    assert response.status_code == 200
    assert response.content == OK
    assert balance(server, customer) == 9
    assert balance(server, customer, sent=True) == 1
    page = records(server, customer)
    assert (page.total, page.count, page.pages) == (1, 1, 1)
    assert (page.records[0].mobile, page.records[0].content) == (number, "发送测试")
    assert page.records[0].status == "0"  # waiting for its report


def test_100_newline_is_allowed(server: RunningServer) -> None:
    customer = server.customer()
    assert (
        send(server, customer, mobile=mobiles(1)[0], content="第一行\r\n第二行\n三").content == OK
    )
    assert [r["content"] for r in stored(server, customer)] == ["第一行\n第二行\n三"]


# -- 102 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_102_not_enough_for_the_whole_request(
    server: RunningServer, method: str, encoding: str
) -> None:
    customer = server.customer(balance=1)

    response = send(
        server,
        customer,
        method=method,
        encoding=encoding,
        mobile=",".join(mobiles(2)),
        content="余额测试",
    )

    assert response.content == answer(102)
    # Nothing is stored and nothing is charged.
    assert balance(server, customer) == 1
    assert balance(server, customer, sent=True) == 0
    assert server.get("/rd/", customer.auth()).content == b""
    assert stored(server, customer) == []


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (500, 8)]
)
def test_102_billing_is_per_part(server: RunningServer, length: int, parts: int) -> None:
    """One part up to 70 characters, above that ceil(len / 67); charged per number."""
    short = server.customer(balance=parts - 1)
    content = "测" * length
    assert send(server, short, mobile=mobiles(1)[0], content=content).content == answer(102)
    assert balance(server, short) == parts - 1

    exact = server.customer(balance=2 * parts)
    assert send(server, exact, mobile=",".join(mobiles(2)), content=content).content == OK
    assert balance(server, exact) == 0
    assert balance(server, exact, sent=True) == 2 * parts


def test_102_invalid_numbers_are_not_charged(server: RunningServer) -> None:
    customer = server.customer(balance=1)
    valid = mobiles(1)[0]
    assert send(server, customer, mobile=f"{valid},1390000test", content="x").content == OK
    assert balance(server, customer) == 0
    assert statuses(server, customer) == {valid: "0", "1390000test": "112"}


# -- 103 ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing/", "/", "/mt/extra", "/index.php", "/MT/"])
def test_103_unknown_path_answers_the_protocol(server: RunningServer, path: str) -> None:
    response = server.get(path)
    assert response.content == answer(103)
    assert response.headers["content-type"] == "text/plain; charset=GBK"


def test_103_body_too_large(server: RunningServer) -> None:
    customer = server.customer()
    body = (
        f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=".encode()
        + b"a" * (5 * 1024 * 1024)
    )
    response = server.http.post(
        "/mt/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.content == answer(103)
    assert stored(server, customer) == []


def test_103_other_http_method(server: RunningServer) -> None:
    customer = server.customer()
    response = server.http.put(
        "/mt/",
        content=f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=x",
    )
    assert response.content == answer(103)
    assert stored(server, customer) == []


def test_103_broken_multipart_body(server: RunningServer) -> None:
    customer = server.customer()
    response = server.http.post(
        "/mt/",
        content=b"--x\r\nthis is not multipart",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
    )
    assert response.content == answer(103)
    assert stored(server, customer) == []


# -- 104 ------------------------------------------------------------------------------


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\t", "\x1b", "\x7f"])
def test_104_control_character(server: RunningServer, control: str) -> None:
    customer = server.customer()
    response = send(server, customer, mobile=mobiles(1)[0], content=f"发送{control}测试")
    assert response.content == answer(104)
    assert stored(server, customer) == []
    assert balance(server, customer) == 1000


@pytest.fixture(scope="module")
def keyword(server: RunningServer) -> str:
    """A blocked keyword of the operator's list, unique to this session."""
    word = f"违禁Qz{secrets.token_hex(3)}"
    server.operate(lambda op: op.add_keyword(word))
    return word


def _disguised(word: str) -> list[str]:
    return [
        word,
        f"前面{word}后面",
        word.upper(),
        word.lower(),
        " ".join(word),  # spaces between the characters
        "，".join(word.upper()),  # full-width punctuation
        "-".join(word) + "!",
        ".".join(word.swapcase()) + "。",
    ]


@pytest.mark.parametrize("variant", range(8))
@pytest.mark.parametrize(("method", "encoding"), [("GET", "gbk"), ("POST", "utf8")])
def test_104_blocked_keyword(
    server: RunningServer, keyword: str, variant: int, method: str, encoding: str
) -> None:
    customer = server.customer()
    content = _disguised(keyword)[variant]
    response = send(
        server, customer, method=method, encoding=encoding, mobile=mobiles(1)[0], content=content
    )
    assert response.content == answer(104), content
    assert stored(server, customer) == []


def test_104_keyword_parts_apart_are_fine(server: RunningServer, keyword: str) -> None:
    customer = server.customer()
    content = f"{keyword[:3]}正常文字{keyword[3:]}"
    assert send(server, customer, mobile=mobiles(1)[0], content=content).content == OK


@pytest.mark.parametrize(
    ("method", "encoding", "raw"),
    [
        ("GET", "gbk", b"abc\xff\xfe"),  # never valid GBK / GB18030
        ("POST", "gbk", b"\xb7\xa2\xcb"),  # a lead byte without its trail byte
        ("GET", "utf8", "发送测试".encode("gbk")),  # GBK bytes said to be UTF-8
        ("POST", "utf8", b"\xe5\x8f"),  # truncated UTF-8
    ],
)
def test_104_undecodable_bytes(
    server: RunningServer, method: str, encoding: str, raw: bytes
) -> None:
    customer = server.customer()
    response = send(
        server, customer, method=method, encoding=encoding, mobile=mobiles(1)[0], content=raw
    )
    assert response.content == answer(104)
    assert stored(server, customer) == []


@pytest.mark.parametrize("mobileid", ["abc!def", "a" * 41, "编号123", "12 34", "1.5"])
def test_104_bad_mobileid(server: RunningServer, mobileid: str) -> None:
    customer = server.customer()
    response = send(server, customer, mobile=mobiles(1)[0], content="x", mobileids=mobileid)
    assert response.content == answer(104)
    assert stored(server, customer) == []


@pytest.mark.parametrize(
    ("numbers", "ids"),
    [
        (1, "a" * 40),
        (1, "PHP1402A"),
        (1, "Aa0_-z"),
        (3, "12345"),  # one id for many numbers
        (2, "1,2,3,4"),  # extra ids are ignored
        (2, "111,222,"),  # the document's form: each id followed by a comma
    ],
)
def test_100_good_mobileids(server: RunningServer, numbers: int, ids: str) -> None:
    customer = server.customer()
    targets = mobiles(numbers)
    response = send(server, customer, mobile=",".join(targets), content="x", mobileids=ids)
    assert response.content == OK
    given = [i for i in ids.split(",") if i]
    rows = {row["mobile"]: row["mobileid"] for row in stored(server, customer)}
    assert set(rows) == set(targets)
    for index, number in enumerate(targets):
        if index < len(given):
            assert rows[number] == given[index]
        else:  # generated: the number + epoch milliseconds
            assert rows[number].startswith(number)
            assert rows[number][len(number) :].isdigit()


def test_100_same_mobileid_on_every_request(server: RunningServer) -> None:
    customer = server.customer()
    for number in mobiles(2):
        assert send(server, customer, mobile=number, content="x", mobileids="42").content == OK
    assert [row["mobileid"] for row in stored(server, customer)] == ["42", "42"]


# -- 105 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_105_content_too_long(server: RunningServer, method: str, encoding: str) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    for char in ("测", "a"):
        response = send(
            server, customer, method=method, encoding=encoding, mobile=number, content=char * 501
        )
        assert response.content == answer(105)
    assert stored(server, customer) == []
    # 500 characters (not bytes) is the limit.
    response = send(
        server, customer, method=method, encoding=encoding, mobile=number, content="测" * 500
    )
    assert response.content == OK


# -- 106 ------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [",", "，"])
def test_106_more_than_50_numbers_by_get(server: RunningServer, separator: str) -> None:
    customer = server.customer()
    response = send(server, customer, mobile=separator.join(mobiles(51)), content="x")
    assert response.content == answer(106)
    assert stored(server, customer) == []
    assert balance(server, customer) == 1000

    response = send(server, customer, mobile=separator.join(mobiles(50)), content="x")
    assert response.content == OK
    assert records(server, customer).total == 50
    assert balance(server, customer) == 950


def test_106_post_takes_2000_numbers(server: RunningServer) -> None:
    customer = server.customer(balance=2051)
    response = send(server, customer, method="POST", mobile=",".join(mobiles(51)), content="x")
    assert response.content == OK

    response = send(server, customer, method="POST", mobile=",".join(mobiles(2001)), content="x")
    assert response.content == answer(106)
    assert balance(server, customer) == 2000

    response = send(server, customer, method="POST", mobile=",".join(mobiles(2000)), content="x")
    assert response.content == OK
    assert balance(server, customer) == 0
    assert records(server, customer).total == 2051


def test_106_post_with_parameters_in_the_query_string(server: RunningServer) -> None:
    """A POST with everything in the URL and an empty body follows the POST limit."""
    customer = server.customer()
    query = "&".join(
        [
            f"uid={customer.uid}",
            f"pwd={customer.pwd}",
            "mobile=" + ",".join(mobiles(51)),
            "content=%B7%A2%CB%CD%B2%E2%CA%D4",
        ]
    )
    response = server.http.post(f"/mt/?{query}", content=b"")
    assert response.content == OK
    assert records(server, customer).total == 51
    assert {r.content for r in records(server, customer).records} == {"发送测试"}


# -- 107 ------------------------------------------------------------------------------


def test_107_over_the_account_rate(server: RunningServer) -> None:
    customer = server.customer(rate="1")
    with server.clock.frozen():  # the second request in the same instant: no token back yet
        assert send(server, customer, mobile=mobiles(1)[0], content="x").content == OK
        response = send(server, customer, mobile=mobiles(1)[0], content="x")
    assert response.content == answer(107)
    assert balance(server, customer) == 999
    assert records(server, customer).total == 1


def test_107_rate_is_a_bucket_that_refills(server: RunningServer) -> None:
    """rate=2: a burst of two, then one more token every half second."""
    customer = server.customer(rate="2")
    with server.clock.frozen() as clock:
        answers = [
            send(server, customer, mobile=mobiles(1)[0], content="x").content for _ in range(3)
        ]
        assert answers == [OK, OK, answer(107)]
        clock.advance(600)
        assert send(server, customer, mobile=mobiles(1)[0], content="x").content == OK


def test_107_a_token_comes_back_every_one_over_rate_seconds(server: RunningServer) -> None:
    """To the millisecond, on the server's clock: rate=2 gives a token every
    500 ms, and an idle account saves up no more than a burst of 2."""
    customer = server.customer(rate="2")

    def mt() -> bytes:
        return send(server, customer, mobile=mobiles(1)[0], content="x").content

    with server.clock.frozen() as clock:
        assert [mt(), mt(), mt()] == [OK, OK, answer(107)]
        clock.advance(499)
        assert mt() == answer(107)  # 0.998 of a token
        clock.advance(1)
        assert [mt(), mt()] == [OK, answer(107)]
        clock.advance(3_600_000)  # an hour idle: still a burst of two, not 7,200
        assert [mt(), mt(), mt()] == [OK, OK, answer(107)]
    assert balance(server, customer, sent=True) == 5


# -- 108 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"mobile": "", "content": "x"},
        {"mobile": "13900008888", "content": ""},
        {"mobile": "", "content": ""},
        {"content": "x"},
        {"mobile": "13900008888"},
        {},
        {"mobile": ",，, ", "content": "x"},
    ],
    ids=[
        "no-mobile",
        "no-content",
        "both-empty",
        "mobile-missing",
        "content-missing",
        "none",
        "separators",
    ],
)
@pytest.mark.parametrize(("method", "encoding"), [("GET", "gbk"), ("POST", "utf8")])
def test_108_empty_number_or_content(
    server: RunningServer, params: dict[str, str], method: str, encoding: str
) -> None:
    customer = server.customer()
    response = send(server, customer, method=method, encoding=encoding, **params)
    assert response.content == answer(108)
    assert stored(server, customer) == []


# -- 110 ------------------------------------------------------------------------------


def test_110_single_number_sent_too_often(server: RunningServer) -> None:
    customer = server.customer(per_number="1/30s")
    number, other = mobiles(2)
    with server.clock.frozen():  # all within the 30 s, however slow the machine
        assert send(server, customer, mobile=number, content="x").content == OK
        assert send(server, customer, mobile=number, content="x").content == answer(110)
        # The same number written another way is still the same number.
        assert send(server, customer, mobile=f"+86{number}", content="x").content == answer(110)
        assert send(server, customer, mobile=other, content="x").content == OK
    assert balance(server, customer) == 998
    assert records(server, customer).total == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_110_in_a_multi_number_request(server: RunningServer, method: str) -> None:
    customer = server.customer(per_number="1/30s")
    number, other, third = mobiles(3)
    with server.clock.frozen():
        assert send(server, customer, method=method, mobile=number, content="一").content == OK

        response = send(
            server, customer, method=method, mobile=f"{other},{number},{third}", content="二"
        )

    assert response.content == OK
    assert balance(server, customer) == 997  # the limited number is not charged
    page = records(server, customer)
    assert page.total == 4
    latest = {r.mobile: (r.content, r.status) for r in page.records[:3]}
    assert latest == {other: ("二", "0"), number: ("二", "110"), third: ("二", "0")}
    assert (page.records[3].mobile, page.records[3].status) == (number, "0")


def test_110_each_window_opens_again_when_its_time_is_up(server: RunningServer) -> None:
    """`1/30s,2/h` on the server's clock: the 30 s window to the millisecond,
    then the hour's count, then the hour over."""
    customer = server.customer(per_number="1/30s,2/h")
    number = mobiles(1)[0]

    def mt() -> bytes:
        return send(server, customer, mobile=number, content="x").content

    with server.clock.frozen() as clock:
        assert mt() == OK
        clock.advance(29_999)
        assert mt() == answer(110)
        clock.advance(1)  # 30 s after the first send
        assert mt() == OK
        clock.advance(30_000)
        assert mt() == answer(110)  # two in the hour already
        clock.advance(3_600_000 - 60_000)  # an hour after the first send
        assert mt() == OK
    assert records(server, customer).total == 3


# -- 112 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mobile",
    [
        "1390000test",
        "12345678901",  # 12 is no mainland mobile prefix
        "1390000888",  # 10 digits
        "139000088881",  # 12 digits
        "abc",
        "+1 5551234567",
        "1390000test,12345678901",
    ],
)
@pytest.mark.parametrize(("method", "encoding"), [("GET", "gbk"), ("POST", "utf8")])
def test_112_no_valid_number(
    server: RunningServer, mobile: str, method: str, encoding: str
) -> None:
    customer = server.customer()
    response = send(server, customer, method=method, encoding=encoding, mobile=mobile, content="x")
    assert response.content == answer(112)
    assert balance(server, customer) == 1000
    assert balance(server, customer, sent=True) == 0


# -- 113 ------------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    "when",
    [
        "2010-13-45 99:99",
        "tomorrow",
        "2010/05/27 12:01",
        "27-05-2010 12:01",
        "2010-05-27T12:01",
        "20100527",
        "2010-05-27 12:01 x",
    ],
)
def test_113_unreadable_time(server: RunningServer, when: str) -> None:
    customer = server.customer()
    response = send(server, customer, mobile=mobiles(1)[0], content="x", time=when)
    assert response.content == answer(113)
    assert stored(server, customer) == []
    assert balance(server, customer) == 1000


def test_113_more_than_30_days_ahead(server: RunningServer) -> None:
    customer = server.customer()
    far = beijing() + timedelta(days=31)
    response = send(
        server, customer, mobile=mobiles(1)[0], content="x", time=far.strftime("%Y-%m-%d %H:%M")
    )
    assert response.content == answer(113)
    assert stored(server, customer) == []

    near = beijing() + timedelta(days=29)
    when = near.strftime("%Y-%m-%d %H:%M:%S")
    assert send(server, customer, mobile=mobiles(1)[0], content="x", time=when).content == OK
    assert [row["due_at"] for row in stored(server, customer)] == [_ms(near.replace(microsecond=0))]


@pytest.mark.parametrize("form", ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_113_accepted_time_forms(server: RunningServer, form: str, method: str) -> None:
    """Beijing time, in the document's form and the two common others."""
    customer = server.customer()
    due = (beijing() + timedelta(days=2)).replace(second=17, microsecond=0)
    if "%S" not in form:
        due = due.replace(second=0)
    response = send(
        server, customer, method=method, mobile=mobiles(1)[0], content="x", time=due.strftime(form)
    )
    assert response.content == OK
    [row] = stored(server, customer)
    assert row["due_at"] == _ms(due)
    assert balance(server, customer) == 999  # charged at acceptance


@pytest.mark.parametrize("when", ["2010-05-27 12:01", "2010-05-27 12:01:00", "20100527120100", ""])
def test_113_past_or_empty_time_sends_now(server: RunningServer, when: str) -> None:
    customer = server.customer()
    before = _ms(datetime.now(BEIJING))
    assert send(server, customer, mobile=mobiles(1)[0], content="x", time=when).content == OK
    after = _ms(datetime.now(BEIJING))
    [row] = stored(server, customer)
    assert before - 1000 <= row["due_at"] <= after + 1000


def test_113_document_time_form_in_a_raw_query(server: RunningServer) -> None:
    """`time=2010-05-27+12:01` and `time=2010-05-27%2012:01` both mean the same thing."""
    customer = server.customer()
    future = (beijing() + timedelta(days=3)).replace(second=0, microsecond=0)
    for space in ("+", "%20"):
        value = future.strftime("%Y-%m-%d") + space + future.strftime("%H:%M")
        query = (
            f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=x&time={value}"
        )
        assert server.http.get(f"/mt/?{query}").content == OK
    assert [row["due_at"] for row in stored(server, customer)] == [_ms(future)] * 2


# -- charset of error answers -------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "utf8"])
def test_error_answers_are_gbk_on_mt(server: RunningServer, encoding: str) -> None:
    """/mt/ answers GBK whatever `encode` says (spec §2: 请求响应返回内容是GBK编码)."""
    customer = server.customer()
    response = call(
        server,
        "/mt/",
        {**customer.auth(), "mobile": "", "content": "x", "encode": encoding},
        charset=charset_of(encoding),
    )
    assert response.content == answer(108)
