"""The account gates (PROTOCOL.md "Authentication and account gates"), on every endpoint.

101 credentials, 109 frozen, 111 paused, 114 lockout, 116 API sending off,
117 IP binding, 120 maintenance.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import httpx
import pytest

from hongyan.store.system import MAINTENANCE, PAUSED
from tests.conformance.support import (
    METHOD_ENCODINGS,
    OK,
    answer,
    balance,
    call,
    charset_of,
    mobiles,
    raw_request,
    records,
    remain_answer,
    send,
    stored,
    switched,
)
from tests.conftest import Customer, RunningServer


def _unknown_uid() -> str:
    return f"nobody_{secrets.token_hex(4)}"


def _mt(
    server: RunningServer, auth: dict[str, str], method: str = "GET", encoding: str = "gbk"
) -> httpx.Response:
    """/mt/ with `auth` and a valid request otherwise."""
    params = {**auth, "mobile": mobiles(1)[0], "content": "发送测试"}
    if encoding == "utf8":
        params["encode"] = "utf8"
    return call(server, "/mt/", params, method=method, charset=charset_of(encoding))


def _every_endpoint(server: RunningServer, auth: dict[str, str]) -> dict[str, bytes]:
    """What /mt/ (GET, POST), /mm/ and /rd/ answer to `auth`."""
    return {
        "mt GET": _mt(server, auth).content,
        "mt POST": _mt(server, auth, "POST").content,
        "mm": call(server, "/mm/", auth).content,
        "mm POST": call(server, "/mm/", auth, method="POST").content,
        "rd": call(server, "/rd/", auth).content,
        "rd POST": call(server, "/rd/", auth, method="POST").content,
    }


def _all(code: int) -> dict[str, bytes]:
    keys = ("mt GET", "mt POST", "mm", "mm POST", "rd", "rd POST")
    return dict.fromkeys(keys, answer(code))


# -- 101 ------------------------------------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        lambda c: _md5("wrong" + c.uid),  # md5 of another password
        lambda c: _md5(c.password),  # md5 of the password alone
        lambda c: _md5(c.uid + c.password),  # the wrong way round
        lambda c: c.password,  # the plain password
        lambda c: "",  # empty
        lambda c: c.pwd[:31],  # truncated
        lambda c: c.pwd + "0",  # too long
    ],
    ids=["other-password", "password-only", "reversed", "plain", "empty", "short", "long"],
)
def test_101_bad_password(server: RunningServer, bad: Callable[[Customer], str]) -> None:
    customer = server.customer()
    pwd = bad(customer)
    # Three endpoints, three failures: under the lockout's five.
    assert _mt(server, {"uid": customer.uid, "pwd": pwd}).content == answer(101)
    assert call(server, "/mm/", {"uid": customer.uid, "pwd": pwd}).content == answer(101)
    assert call(server, "/rd/", {"uid": customer.uid, "pwd": pwd}).content == answer(101)
    assert stored(server, customer) == []
    assert balance(server, customer) == 1000


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_101_unknown_uid(server: RunningServer, method: str, encoding: str) -> None:
    auth = {"uid": _unknown_uid(), "pwd": _md5("123123")}
    assert _mt(server, auth, method, encoding).content == answer(101)
    assert call(server, "/mm/", auth, method=method).content == answer(101)
    assert call(server, "/rd/", auth, method=method).content == answer(101)


@pytest.mark.parametrize("missing", ["uid", "pwd"])
def test_101_missing_credentials(server: RunningServer, missing: str) -> None:
    customer = server.customer()
    auth = customer.auth()
    del auth[missing]
    assert _mt(server, auth).content == answer(101)
    assert call(server, "/mm/", auth).content == answer(101)
    assert stored(server, customer) == []


@pytest.mark.parametrize(
    "uid",
    [b"%B7%A2%CB%CD", b"%00", b"a" * 2000, b"%E5%8F%91", b"+", b"%20"],
    ids=["gbk", "nul", "long", "utf8", "plus", "blank"],
)
def test_101_odd_uid_values(server: RunningServer, uid: bytes) -> None:
    target = (
        b"/mt/?uid=" + uid + b"&pwd=" + _md5("123123").encode() + b"&mobile=13900008888&content=x"
    )
    status, _, body = server.raw(raw_request("GET", target))
    assert (status, body) == (200, answer(101))


def test_101_uid_is_not_the_password_of_another_account(server: RunningServer) -> None:
    one, other = server.customer(), server.customer()
    assert _mt(server, {"uid": one.uid, "pwd": other.pwd}).content == answer(101)


def test_upper_case_pwd_is_accepted(server: RunningServer) -> None:
    customer = server.customer(balance=10)
    auth = {"uid": customer.uid, "pwd": customer.pwd.upper()}
    assert customer.pwd.upper() != customer.pwd
    assert _every_endpoint(server, auth) == {
        "mt GET": OK,
        "mt POST": OK,
        "mm": remain_answer(8),
        "mm POST": remain_answer(8),
        "rd": server.get("/rd/", customer.auth()).content,
        "rd POST": server.get("/rd/", customer.auth()).content,
    }
    assert records(server, customer).total == 2


# -- 109 ------------------------------------------------------------------------------


def test_109_frozen_account(server: RunningServer) -> None:
    customer = server.customer()
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert _every_endpoint(server, customer.auth()) == _all(109)
    assert stored(server, customer) == []

    server.operate(lambda op: op.set_frozen(customer.uid, False))
    assert _mt(server, customer.auth()).content == OK


def test_109_comes_after_the_password(server: RunningServer) -> None:
    customer = server.customer()
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert _mt(server, {"uid": customer.uid, "pwd": _md5("x")}).content == answer(101)


# -- 111 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_111_sending_paused(server: RunningServer, method: str, encoding: str) -> None:
    customer = server.customer()
    with switched(server, PAUSED):
        assert _mt(server, customer.auth(), method, encoding).content == answer(111)
        response = send(
            server, customer, path="/mtutf8/", method=method, mobile=mobiles(1)[0], content="暂停"
        )
        assert response.content == answer(111, "utf-8")
        # Only sending stops: balance and records still answer.
        assert call(server, "/mm/", customer.auth(), method=method).content == remain_answer(1000)
        assert call(server, "/rd/", customer.auth(), method=method).content == b""
        assert stored(server, customer) == []
    assert _mt(server, customer.auth(), method, encoding).content == OK


def test_111_comes_after_the_password(server: RunningServer) -> None:
    customer = server.customer()
    with switched(server, PAUSED):
        assert _mt(server, {"uid": customer.uid, "pwd": _md5("x")}).content == answer(101)


# -- 114 ------------------------------------------------------------------------------


def _wrong(customer: Customer) -> dict[str, str]:
    return {"uid": customer.uid, "pwd": _md5("wrong" + customer.uid)}


def test_114_five_failures_lock_the_uid_for_this_ip(server: RunningServer) -> None:
    customer = server.customer()
    failures = [_mt(server, _wrong(customer)).content for _ in range(5)]
    assert failures == [answer(101)] * 5

    # Now even the right password is refused, on every endpoint.
    assert _every_endpoint(server, customer.auth()) == _all(114)
    assert _mt(server, _wrong(customer)).content == answer(114)
    assert stored(server, customer) == []
    # The lock is for that uid only.
    other = server.customer()
    assert _mt(server, other.auth()).content == OK


def test_114_failures_count_on_every_endpoint(server: RunningServer) -> None:
    customer = server.customer()
    wrong = _wrong(customer)
    assert _mt(server, wrong).content == answer(101)
    assert _mt(server, wrong, "POST").content == answer(101)
    assert call(server, "/mm/", wrong).content == answer(101)
    assert call(server, "/rd/", wrong).content == answer(101)
    assert call(server, "/mm/", wrong, method="POST").content == answer(101)
    assert _mt(server, customer.auth()).content == answer(114)


def test_114_four_failures_do_not_lock(server: RunningServer) -> None:
    customer = server.customer()
    for _ in range(4):
        assert _mt(server, _wrong(customer)).content == answer(101)
    assert _mt(server, customer.auth()).content == OK


def test_114_answer_bytes(server: RunningServer) -> None:
    customer = server.customer()
    for _ in range(5):
        _mt(server, _wrong(customer))
    body = _mt(server, customer.auth()).content
    assert body == "sms&stat=114&message=账号被锁，10分钟后登录".encode("gbk")
    assert body == (
        b"sms&stat=114&message="
        b"\xd5\xcb\xba\xc5\xb1\xbb\xcb\xf8\xa3\xac10\xb7\xd6\xd6\xd3\xba\xf3\xb5\xc7\xc2\xbc"
    )


# -- 116 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
def test_116_api_sending_disabled(server: RunningServer, method: str, encoding: str) -> None:
    customer = server.customer()
    server.operate(lambda op: op.set_api_send(customer.uid, False))

    assert _mt(server, customer.auth(), method, encoding).content == answer(116)
    response = send(
        server, customer, path="/mtutf8/", method=method, mobile=mobiles(1)[0], content="x"
    )
    assert response.content == answer(116, "utf-8")
    # Only /mt/ is concerned.
    assert call(server, "/mm/", customer.auth(), method=method).content == remain_answer(1000)
    assert call(server, "/rd/", customer.auth(), method=method).content == b""
    assert stored(server, customer) == []

    server.operate(lambda op: op.set_api_send(customer.uid, True))
    assert _mt(server, customer.auth(), method, encoding).content == OK


def test_116_comes_after_frozen(server: RunningServer) -> None:
    customer = server.customer()
    server.operate(lambda op: op.set_api_send(customer.uid, False))
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert _mt(server, customer.auth()).content == answer(109)


# -- 117 ------------------------------------------------------------------------------


def test_117_request_from_an_address_not_bound(server: RunningServer) -> None:
    customer = server.customer()
    server.operate(lambda op: op.bind_address(customer.uid, "10.9.9.9"))

    assert _every_endpoint(server, customer.auth()) == _all(117)
    assert stored(server, customer) == []

    server.operate(lambda op: op.bind_address(customer.uid, "127.0.0.0/8"))
    assert _mt(server, customer.auth()).content == OK


@pytest.mark.parametrize(
    ("bound", "forwarded", "expected"),
    [("10.9.9.9", "10.9.9.9", 117), ("127.0.0.1", "10.9.9.9", 100)],
)
def test_117_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    server: RunningServer, bound: str, forwarded: str, expected: int
) -> None:
    """The client IP is the socket peer; X-Forwarded-For counts only from a configured
    trusted proxy, and the test server configures none (PROTOCOL.md gate 5)."""
    customer = server.customer()
    server.operate(lambda op: op.bind_address(customer.uid, bound))
    response = call(
        server,
        "/mt/",
        {**customer.auth(), "mobile": mobiles(1)[0], "content": "x"},
        headers={"X-Forwarded-For": forwarded},
    )
    assert response.content == answer(expected)
    response = call(server, "/mm/", customer.auth(), headers={"X-Forwarded-For": forwarded})
    assert response.content == (answer(117) if expected == 117 else remain_answer(999))


@pytest.mark.parametrize("bound", ["127.0.0.0/8", "127.0.0.1", "127.0.0.1/32"])
def test_117_bound_address_is_let_through(server: RunningServer, bound: str) -> None:
    customer = server.customer(balance=10)
    server.operate(lambda op: op.bind_address(customer.uid, bound))
    result = _every_endpoint(server, customer.auth())
    assert (result["mt GET"], result["mt POST"]) == (OK, OK)
    assert (result["mm"], result["mm POST"]) == (remain_answer(8), remain_answer(8))
    assert records(server, customer).total == 2


def test_117_comes_after_frozen_and_before_116(server: RunningServer) -> None:
    customer = server.customer()
    server.operate(lambda op: op.bind_address(customer.uid, "10.9.9.9"))
    server.operate(lambda op: op.set_api_send(customer.uid, False))
    assert _mt(server, customer.auth()).content == answer(117)
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert _mt(server, customer.auth()).content == answer(109)


# -- 120 ------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["/", ""])
def test_120_maintenance_on_every_endpoint(server: RunningServer, slash: str) -> None:
    customer = server.customer()
    with switched(server, MAINTENANCE):
        for method in ("GET", "POST"):
            for path in ("/mt", "/mm", "/rd"):
                params = {**customer.auth(), "mobile": mobiles(1)[0], "content": "x"}
                response = call(server, path + slash, params, method=method)
                assert response.content == answer(120), (method, path)
            response = send(
                server, customer, path="/mtutf8" + slash, method=method, mobile="x", content="x"
            )
            assert response.content == answer(120, "utf-8")
            # Before anything else: even bad credentials get 120.
            assert _mt(server, _wrong(customer), method).content == answer(120)
            assert _mt(server, {"uid": _unknown_uid(), "pwd": ""}, method).content == answer(120)
        assert stored(server, customer) == []
    assert _mt(server, customer.auth()).content == OK
    # The bad credentials sent during maintenance were not counted as failures.
    for _ in range(3):
        assert _mt(server, _wrong(customer)).content == answer(101)
    assert _mt(server, customer.auth()).content == OK
