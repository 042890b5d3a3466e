"""How clients reach us (PROTOCOL.md "Transport"): methods, encodings, sloppy
requests, numbers as clients write them, and the bytes of every answer."""

from __future__ import annotations

import pytest

from tests.conformance.support import (
    FORM,
    METHOD_ENCODINGS,
    OK,
    answer,
    call,
    mobiles,
    multipart,
    raw_request,
    records,
    remain_answer,
    send,
    statuses,
    stored,
)
from tests.conftest import Customer, RunningServer

TEXT = "发送测试"


def _only_content(server: RunningServer, customer: Customer) -> str:
    [record] = records(server, customer).records
    return record.content


# -- encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("encode", ["utf8", "utf-8", "UTF8", "UTF-8", "Utf8", " utf8 "])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_encode_utf8_spellings(server: RunningServer, method: str, encode: str) -> None:
    customer = server.customer()
    response = send(
        server,
        customer,
        method=method,
        encoding="utf8",
        encode=encode,
        mobile=mobiles(1)[0],
        content=TEXT,
    )
    assert response.content == OK  # the answer stays GBK
    assert _only_content(server, customer) == TEXT


@pytest.mark.parametrize("encode", [None, "", "gbk", "GBK"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_gbk_by_default_and_explicit(
    server: RunningServer, method: str, encode: str | None
) -> None:
    customer = server.customer()
    params = {"mobile": mobiles(1)[0], "content": TEXT}
    if encode is not None:
        params["encode"] = encode
    assert send(server, customer, method=method, **params).content == OK
    assert _only_content(server, customer) == TEXT


def test_document_content_bytes_without_encode(server: RunningServer) -> None:
    customer = server.customer()
    query = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}"
    response = server.http.get(f"/mt/?{query}&content=%B7%A2%CB%CD%B2%E2%CA%D4")
    assert response.content == OK
    assert _only_content(server, customer) == "发送测试"


@pytest.mark.parametrize(
    ("encoded", "text"),
    [
        ("%B7%A2%CB%CD+%B2%E2%CA%D4", "发送 测试"),  # urlencode: space is +
        ("%B7%A2%CB%CD%20%B2%E2%CA%D4", "发送 测试"),  # rawurlencode: %20
        ("a%2Bb", "a+b"),
        ("%25%26%3D", "%&="),
        ("-_.~", "-_.~"),
    ],
)
def test_url_encoding_as_asp_php_java_do_it(server: RunningServer, encoded: str, text: str) -> None:
    customer = server.customer()
    query = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content={encoded}"
    assert server.http.get(f"/mt/?{query}").content == OK
    assert [row["content"] for row in stored(server, customer)] == [text]


def test_malformed_percent_escapes_are_kept_as_they_are(server: RunningServer) -> None:
    customer = server.customer()
    query = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=%ZZ%B"
    assert server.http.get(f"/mt/?{query}&&=x&").content == OK
    assert [row["content"] for row in stored(server, customer)] == ["%ZZ%B"]


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_characters_outside_gbk_are_stored_intact(
    server: RunningServer, method: str, encoding: str
) -> None:
    """GB18030 (the default) and UTF-8 both carry emoji; the store keeps them; a GBK
    answer shows `?` for them."""
    customer = server.customer()
    content = "你好😀𠀀"
    response = send(
        server,
        customer,
        method=method,
        encoding=encoding,
        mobile=mobiles(1)[0],
        content=content if encoding == "utf8" else content.encode("gb18030"),
    )
    assert response.content == OK
    assert [row["content"] for row in stored(server, customer)] == [content]
    assert _only_content(server, customer) == "你好??"


# -- /mtutf8/ -------------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [None, "gbk", "utf8", "GBK"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_mtutf8_reads_and_answers_utf8(
    server: RunningServer, method: str, encode: str | None
) -> None:
    customer = server.customer()
    params = {"mobile": mobiles(1)[0], "content": TEXT}
    if encode is not None:
        params["encode"] = encode  # ignored there
    response = send(server, customer, path="/mtutf8/", method=method, encoding="utf8", **params)
    assert response.content == "sms&stat=100&message=发送成功".encode()
    assert response.headers["content-type"].lower() == "text/plain; charset=utf-8"
    assert _only_content(server, customer) == TEXT


def test_mtutf8_emoji_is_stored_intact(server: RunningServer) -> None:
    customer = server.customer()
    content = "表情😀"
    response = send(
        server, customer, path="/mtutf8/", encoding="utf8", mobile=mobiles(1)[0], content=content
    )
    assert response.content == "sms&stat=100&message=发送成功".encode()
    assert [row["content"] for row in stored(server, customer)] == [content]
    assert _only_content(server, customer) == "表情?"  # /rd/ answers GBK


def test_mtutf8_error_answers_are_utf8(server: RunningServer) -> None:
    customer = server.customer()
    response = send(server, customer, path="/mtutf8/", encoding="utf8", mobile="", content="x")
    assert response.content == "sms&stat=108&message=号码内容空".encode()
    wrong = {"uid": customer.uid, "pwd": "0" * 32, "mobile": mobiles(1)[0], "content": "x"}
    assert call(server, "/mtutf8/", wrong).content == "sms&stat=101&message=验证失败".encode()


def test_mtutf8_gbk_bytes_are_undecodable(server: RunningServer) -> None:
    customer = server.customer()
    response = send(
        server, customer, path="/mtutf8/", mobile=mobiles(1)[0], content=TEXT.encode("gbk")
    )
    assert response.content == "sms&stat=104&message=非法字符".encode()


# -- request shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "utf8"])
def test_multipart_form_data(server: RunningServer, encoding: str) -> None:
    customer = server.customer()
    charset = "utf-8" if encoding == "utf8" else "gbk"
    fields: dict[str, str | bytes] = {
        **customer.auth(),
        "mobile": mobiles(1)[0],
        "content": TEXT.encode(charset),  # multipart values are not percent-encoded
    }
    if encoding == "utf8":
        fields["encode"] = "utf8"
    body, content_type = multipart(fields)
    response = server.http.post("/mt/", content=body, headers={"Content-Type": content_type})
    assert response.content == OK
    assert _only_content(server, customer) == TEXT


def test_multipart_on_mtutf8_and_read_endpoints(server: RunningServer) -> None:
    customer = server.customer()
    body, content_type = multipart(
        {**customer.auth(), "mobile": mobiles(1)[0], "content": TEXT.encode()}
    )
    response = server.http.post("/mtutf8/", content=body, headers={"Content-Type": content_type})
    assert response.content == "sms&stat=100&message=发送成功".encode()
    body, content_type = multipart(customer.auth())
    response = server.http.post("/mm/", content=body, headers={"Content-Type": content_type})
    assert response.content == remain_answer(999)
    response = server.http.post("/rd/", content=body, headers={"Content-Type": content_type})
    assert TEXT.encode("gbk") in response.content


@pytest.mark.parametrize(("encoding", "extra"), [("gbk", b""), ("utf-8", b"&encode=utf8")])
def test_raw_unencoded_bytes_in_the_url(server: RunningServer, encoding: str, extra: bytes) -> None:
    customer = server.customer()
    target = (
        f"/mt/?uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}".encode()
        + extra
        + b"&content="
        + TEXT.encode(encoding)
    )
    status, _, body = server.raw(raw_request("GET", target))
    assert body == OK
    assert status == 200
    assert _only_content(server, customer) == TEXT


@pytest.mark.parametrize(("encoding", "extra"), [("gbk", b""), ("utf-8", b"&encode=utf8")])
@pytest.mark.parametrize("content_type", [FORM, None])
def test_raw_unencoded_bytes_in_the_body(
    server: RunningServer, encoding: str, extra: bytes, content_type: str | None
) -> None:
    customer = server.customer()
    body = (
        f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}".encode()
        + extra
        + b"&content="
        + "发送 测试".encode(encoding)
    )
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, answer_ = server.raw(raw_request("POST", b"/mt/", body, headers))
    assert (status, answer_) == (200, OK)
    assert _only_content(server, customer) == "发送 测试"


@pytest.mark.parametrize(
    ("declared", "encoding", "extra"),
    [
        ("application/x-www-form-urlencoded; charset=UTF-8", "gbk", ""),
        ("application/x-www-form-urlencoded; charset=utf-8", "gbk", ""),
        ("application/x-www-form-urlencoded;charset=GBK", "utf-8", "&encode=utf8"),
        ("application/x-www-form-urlencoded; charset=ISO-8859-1", "gbk", ""),
    ],
)
def test_lying_charset_in_content_type_is_ignored(
    server: RunningServer, declared: str, encoding: str, extra: str
) -> None:
    customer = server.customer()
    content = "".join(f"%{b:02X}" for b in TEXT.encode(encoding))
    body = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content={content}{extra}"
    response = server.http.post("/mt/", content=body.encode(), headers={"Content-Type": declared})
    assert response.content == OK
    assert _only_content(server, customer) == TEXT


def test_parameters_split_between_query_and_body(server: RunningServer) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    response = server.http.post(
        f"/mt/?uid={customer.uid}&pwd={customer.pwd}",
        content=f"mobile={number}&content=%B7%A2%CB%CD%B2%E2%CA%D4".encode(),
        headers={"Content-Type": FORM},
    )
    assert response.content == OK
    assert statuses(server, customer) == {number: "0"}


def test_body_wins_over_the_query_string(server: RunningServer) -> None:
    customer = server.customer()
    in_query, in_body = mobiles(2)
    response = server.http.post(
        f"/mt/?uid={customer.uid}&pwd={customer.pwd}&mobile={in_query}&content=query",
        content=f"mobile={in_body}&content=body".encode(),
        headers={"Content-Type": FORM},
    )
    assert response.content == OK
    [record] = records(server, customer).records
    assert (record.mobile, record.content) == (in_body, "body")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_empty_optional_parameters_mean_not_given(server: RunningServer, method: str) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    response = send(
        server, customer, method=method, mobile=number, content=TEXT, time="", mid="", mobileids=""
    )
    assert response.content == OK
    [row] = stored(server, customer)
    assert row["mid"] == ""
    assert row["due_at"] == row["created_at"]
    # No id given: the number + epoch milliseconds.
    assert row["mobileid"] == f"{number}{row['created_at']}"


@pytest.mark.parametrize("mid", ["1", "123456"])
def test_mid_extension(server: RunningServer, mid: str) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=mobiles(1)[0], content="x", mid=mid).content == OK
    assert [row["mid"] for row in stored(server, customer)] == [mid]


@pytest.mark.parametrize("path", ["/mt", "/mt/", "/mtutf8", "/mtutf8/"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_send_paths_with_and_without_the_slash(
    server: RunningServer, path: str, method: str
) -> None:
    customer = server.customer()
    response = send(
        server,
        customer,
        path=path,
        method=method,
        encoding="utf8" if "utf8" in path else "gbk",
        mobile=mobiles(1)[0],
        content=TEXT,
    )
    expected = "sms&stat=100&message=发送成功".encode("utf-8" if "utf8" in path else "gbk")
    assert response.content == expected
    assert _only_content(server, customer) == TEXT


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_read_paths_with_and_without_the_slash(server: RunningServer, method: str) -> None:
    customer = server.customer(balance=3)
    for path in ("/mm", "/mm/"):
        assert call(server, path, customer.auth(), method=method).content == remain_answer(3)
    for path in ("/rd", "/rd/"):
        assert call(server, path, customer.auth(), method=method).content == b""


def test_http_1_0_client(server: RunningServer) -> None:
    customer = server.customer()
    target = f"/mt/?uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=x"
    status, headers, body = server.raw(raw_request("GET", target.encode(), version=b"HTTP/1.0"))
    assert (status, body) == (200, OK)
    assert headers["content-length"] == str(len(OK))


# -- numbers as clients write them ---------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{a},{b}",
        "{a}，{b}",  # full-width comma
        "{a} , {b}",
        " {a},{b} ",
        "{a},,{b},",
        "{a}，，{b}，",
        "{a}\u3000，{b}",  # ideographic space
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_separators_and_blanks(server: RunningServer, template: str, method: str) -> None:
    customer = server.customer()
    a, b = mobiles(2)
    response = send(server, customer, method=method, mobile=template.format(a=a, b=b), content="x")
    assert response.content == OK
    assert statuses(server, customer) == {a: "0", b: "0"}
    assert [row["charged"] for row in stored(server, customer)] == [1, 1]


@pytest.mark.parametrize("prefix", ["+86", "0086", "86"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_country_prefixes_are_normalised(server: RunningServer, prefix: str, method: str) -> None:
    customer = server.customer()
    number = mobiles(1)[0]
    response = send(server, customer, method=method, mobile=prefix + number, content="x")
    assert response.content == OK
    assert statuses(server, customer) == {number: "0"}


def test_unencoded_plus_prefix(server: RunningServer) -> None:
    """`mobile=+8613900008888` sent as is: the `+` reads as a blank, `86` remains."""
    customer = server.customer()
    number = mobiles(1)[0]
    query = f"uid={customer.uid}&pwd={customer.pwd}&mobile=+86{number}&content=x"
    assert server.http.get(f"/mt/?{query}").content == OK
    assert statuses(server, customer) == {number: "0"}


@pytest.mark.parametrize(
    "number",
    [
        "02185418874",  # the document's example: Shanghai, 021 + 8 digits
        "01068112227",  # 010 + 8 digits
        "07551234567",  # 0755 + 7 digits
        "075512345678",  # 0755 + 8 digits
    ],
)
def test_fixed_line_numbers(server: RunningServer, number: str) -> None:
    customer = server.customer()
    assert send(server, customer, mobile=number, content="x").content == OK
    assert statuses(server, customer) == {number: "0"}
    assert [row["charged"] for row in stored(server, customer)] == [1]


def test_document_number_list(server: RunningServer) -> None:
    """`13972827282,13072827282,02185418874` (spec §4, mobile)."""
    customer = server.customer()
    mobile = "13972827282,13072827282,02185418874"
    assert send(server, customer, mobile=mobile, content="x").content == OK
    assert statuses(server, customer) == dict.fromkeys(mobile.split(","), "0")


# -- the bytes of every answer ----------------------------------------------------------------


def _requests(customer: Customer) -> list[tuple[str, bytes, bytes]]:
    """(name, request target, expected body or b'*' for any non-empty one)."""
    auth = f"uid={customer.uid}&pwd={customer.pwd}"
    number = mobiles(1)[0]
    return [
        ("rd-empty", f"/rd/?{auth}".encode(), b""),
        ("mt-ok", f"/mt/?{auth}&mobile={number}&content=%B7%A2".encode(), OK),
        ("mt-error", f"/mt/?{auth}&mobile=&content=x".encode(), answer(108)),
        ("mm", f"/mm/?{auth}".encode(), remain_answer(999)),
        ("mm-send", f"/mm/?{auth}&cmd=send".encode(), remain_answer(1)),
        ("rd", f"/rd/?{auth}".encode(), b"*"),
        ("unknown-path", b"/nothing", answer(103)),
    ]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_answer_bytes(server: RunningServer, method: str) -> None:
    customer = server.customer()
    for name, target, expected in _requests(customer):
        if method == "POST":
            path, _, query = target.partition(b"?")
            request = raw_request("POST", path, query, {"Content-Type": FORM})
        else:
            request = raw_request("GET", target)
        status, headers, body = server.raw(request)
        assert headers.get("content-length") == str(len(body)), name
        assert "transfer-encoding" not in headers, name
        assert headers.get("content-type") == "text/plain; charset=GBK", name
        assert not body.startswith(b"\xef\xbb\xbf"), name
        assert not body.endswith((b"\n", b"\r", b" ")), name
        if expected == b"*":
            assert body.startswith(b"1||1||1|#|"), name
        else:
            assert body == expected, name
        if name != "unknown-path":
            assert status == 200, name


def test_mtutf8_answer_bytes(server: RunningServer) -> None:
    customer = server.customer()
    target = f"/mtutf8/?uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=x"
    status, headers, body = server.raw(raw_request("GET", target.encode()))
    assert (status, body) == (200, "sms&stat=100&message=发送成功".encode())
    assert headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in headers
    assert not body.startswith(b"\xef\xbb\xbf")


def test_keep_alive_connection_serves_many_requests(server: RunningServer) -> None:
    customer = server.customer()
    for _ in range(3):
        assert send(server, customer, mobile=mobiles(1)[0], content="x").content == OK
    assert server.get("/mm/", customer.auth()).content == remain_answer(997)
