"""The sister platform's dialect (PROTOCOL.md "Legacy dialect"), through real HTTP,
and the bound on `uid` (issue 11 item 1).

- `/tx/` is `/mt/` for every rule, gate and charge, answering the bare stat
  code (GBK, no trailing newline), for every account.
- An account set to `legacy` reads `/mm/` as `100||N`, and `<stat>||0` on a
  refusal once it has proven to be that account.
- A legacy account the operator allowed may send `pwd` = md5(login_password).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hongyan.errors import InvalidInput
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
    stored,
    switched,
)
from tests.conftest import Customer, RunningServer


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def tx(
    server: RunningServer,
    auth: dict[str, str],
    *,
    method: str = "GET",
    encoding: str = "gbk",
    path: str = "/tx/",
    **params: str,
) -> httpx.Response:
    """/tx/ as a sister-platform client sends it; `encoding="utf8"` adds `encode=utf8`."""
    values = {**auth, **params}
    if encoding == "utf8":
        values.setdefault("encode", "utf8")
    return call(server, path, values, method=method, charset=charset_of(encoding))


def legacy(server: RunningServer, **options: Any) -> Customer:
    customer = server.customer(**options)
    server.operate(lambda op: op.access.set_dialect(customer.uid, "legacy"))
    return customer


# -- /tx/ ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "encoding"), METHOD_ENCODINGS)
@pytest.mark.parametrize("path", ["/tx/", "/tx"])
def test_tx_sends_as_mt_and_answers_a_bare_100(
    server: RunningServer, method: str, encoding: str, path: str
) -> None:
    customer = server.customer(balance=10)
    number = mobiles(1)[0]
    response = tx(
        server,
        customer.auth(),
        method=method,
        encoding=encoding,
        path=path,
        mobile=number,
        content="发送测试",
    )
    assert (response.status_code, response.content) == (200, b"100")
    assert response.headers["content-type"] == "text/plain; charset=GBK"
    assert response.headers["content-length"] == "3"
    assert [(m["mobile"], m["content"]) for m in stored(server, customer)] == [(number, "发送测试")]
    assert balance(server, customer) == 9


def test_tx_charges_as_mt(server: RunningServer) -> None:
    on_mt, on_tx = server.customer(balance=100), server.customer(balance=100)
    params = {"mobile": ",".join(mobiles(2)), "content": "好" * 71, "mid": "12"}
    assert call(server, "/mt/", {**on_mt.auth(), **params}).content == OK
    params["mobile"] = ",".join(mobiles(2))
    assert tx(server, on_tx.auth(), **params).content == b"100"
    assert balance(server, on_mt) == balance(server, on_tx) == 96
    assert [(m["charged"], m["mid"]) for m in stored(server, on_tx)] == [(2, "12"), (2, "12")]


def test_tx_answers_every_refusal_of_mt_by_its_bare_code(server: RunningServer) -> None:
    """Each case through /mt/ and /tx/: the same code, and nothing stored by either."""
    customer = server.customer(balance=10, per_number="1/30s")
    poor = server.customer(balance=0)
    number = mobiles(1)[0]
    assert tx(server, customer.auth(), mobile=number, content="x").content == b"100"
    cases: list[tuple[Customer, dict[str, str], int]] = [
        (customer, {"mobile": "", "content": "x"}, 108),
        (customer, {"mobile": ",".join(mobiles(51)), "content": "x"}, 106),
        (customer, {"mobile": mobiles(1)[0], "content": "x" * 501}, 105),
        (customer, {"mobile": mobiles(1)[0], "content": "a\x07b"}, 104),
        (customer, {"mobile": "12345", "content": "x"}, 112),
        (customer, {"mobile": mobiles(1)[0], "content": "x", "time": "soon"}, 113),
        (customer, {"mobile": number, "content": "again"}, 110),
        (poor, {"mobile": mobiles(1)[0], "content": "x"}, 102),
    ]
    for who, params, code in cases:
        assert tx(server, who.auth(), **params).content == str(code).encode(), code
        assert call(server, "/mt/", {**who.auth(), **params}).content == answer(code), code
    assert len(stored(server, customer)) == 1 and stored(server, poor) == []


def test_tx_passes_the_same_gates_as_mt(server: RunningServer) -> None:
    customer = server.customer()
    wrong = {"uid": customer.uid, "pwd": _md5("wrong")}
    params = {"mobile": mobiles(1)[0], "content": "x"}
    assert tx(server, wrong, **params).content == b"101"
    assert tx(server, {"uid": f"nobody_{secrets.token_hex(3)}", "pwd": ""}, **params).content == (
        b"101"
    )
    server.operate(lambda op: op.set_api_send(customer.uid, False))
    assert tx(server, customer.auth(), **params).content == b"116"
    server.operate(lambda op: op.set_api_send(customer.uid, True))
    with switched(server, PAUSED):
        assert tx(server, customer.auth(), **params).content == b"111"
    with switched(server, MAINTENANCE):
        assert tx(server, customer.auth(), **params).content == b"120"
    server.operate(lambda op: op.bind_address(customer.uid, "10.9.9.9"))
    assert tx(server, customer.auth(), **params).content == b"117"
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert tx(server, customer.auth(), **params).content == b"109"
    assert stored(server, customer) == []


def test_tx_answers_an_unreadable_request_by_the_bare_code(server: RunningServer) -> None:
    status, headers, body = server.raw(raw_request("PUT", b"/tx/?uid=x&pwd=y"))
    assert (status, body) == (200, b"103")
    assert headers["content-type"] == "text/plain; charset=GBK"


def test_tx_is_the_same_for_a_legacy_account(server: RunningServer) -> None:
    customer = legacy(server, balance=5)
    assert tx(server, customer.auth(), mobile=mobiles(1)[0], content="x").content == b"100"
    assert tx(server, customer.auth(), mobile="", content="x").content == b"108"


# -- /mm/ of a legacy account ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_mm_of_a_legacy_account_is_100_bars_n(server: RunningServer, method: str) -> None:
    customer = legacy(server, balance=10)
    assert (
        call(server, "/mt/", {**customer.auth(), "mobile": mobiles(1)[0], "content": "x"}).content
        == OK
    )
    assert call(server, "/mm/", customer.auth(), method=method).content == b"100||9"
    assert call(server, "/mm", {**customer.auth(), "cmd": "send"}, method=method).content == (
        b"100||1"
    )


def test_other_accounts_and_endpoints_keep_the_documents_forms(server: RunningServer) -> None:
    standard, old = server.customer(balance=10), legacy(server, balance=10)
    assert call(server, "/mm/", standard.auth()).content == remain_answer(10)
    params = {"mobile": mobiles(1)[0], "content": "x"}
    assert call(server, "/mt/", {**old.auth(), **params}).content == OK
    assert call(server, "/mt/", {**old.auth(), "mobile": ""}).content == answer(108)
    assert records(server, old).total == 1


def test_a_legacy_account_reads_a_refusal_of_mm_as_stat_bars_0(server: RunningServer) -> None:
    customer = legacy(server)
    server.operate(lambda op: op.bind_address(customer.uid, "10.9.9.9"))
    assert call(server, "/mm/", customer.auth()).content == b"117||0"
    server.operate(lambda op: op.set_frozen(customer.uid, True))
    assert call(server, "/mm/", customer.auth()).content == b"109||0"


def test_a_legacy_account_reads_refusals_before_the_password_as_stat_bars_0(
    server: RunningServer,
) -> None:
    """PROTOCOL.md "Legacy dialect": `101||0`-style codes on failure. Its client
    must read a wrong password, a lock or maintenance too; a uid no account has
    keeps the document's form."""
    customer = legacy(server)
    unknown = f"nobody_{secrets.token_hex(3)}"
    assert call(server, "/mm/", {"uid": unknown, "pwd": _md5("x")}).content == answer(101)
    assert call(server, "/mm/", {"uid": customer.uid, "pwd": _md5("x")}).content == b"101||0"
    with switched(server, MAINTENANCE):
        assert call(server, "/mm/", customer.auth()).content == b"120||0"
    for _ in range(5):
        call(server, "/mm/", {"uid": customer.uid, "pwd": _md5("x")})
    assert call(server, "/mm/", customer.auth()).content == b"114||0"


# -- pwd = md5(password) without the uid -------------------------------------------------------


def test_md5_without_uid_only_for_a_legacy_account_the_operator_allowed(
    server: RunningServer,
) -> None:
    standard, customer = server.customer(), legacy(server, balance=10)
    assert call(server, "/mm/", {"uid": standard.uid, "pwd": _md5(standard.password)}).content == (
        answer(101)
    )
    with pytest.raises(InvalidInput):
        server.operate(lambda op: op.access.set_bare_md5(standard.uid, True, standard.password))
    bare = {"uid": customer.uid, "pwd": _md5(customer.password)}
    assert call(server, "/mm/", bare).content == b"101||0"  # off by default

    server.operate(lambda op: op.access.set_bare_md5(customer.uid, True, customer.password))
    assert call(server, "/mm/", bare).content == b"100||10"
    assert call(server, "/mm/", {**bare, "pwd": bare["pwd"].upper()}).content == b"100||10"
    assert tx(server, bare, mobile=mobiles(1)[0], content="x").content == b"100"
    assert call(server, "/mt/", {**bare, "mobile": mobiles(1)[0], "content": "x"}).content == OK
    assert call(server, "/mm/", customer.auth()).content == b"100||8"

    # A new password takes both forms with it.
    server.operate(lambda op: op.access.set_password(customer.uid, "n3w"))
    assert call(server, "/mm/", bare).content == b"101||0"
    new_bare = {"uid": customer.uid, "pwd": _md5("n3w")}
    assert call(server, "/mm/", new_bare).content == b"100||8"

    server.operate(lambda op: op.access.set_bare_md5(customer.uid, False))
    assert call(server, "/mm/", new_bare).content == b"101||0"


# -- the uid bound (issue 11 item 1) ------------------------------------------------------------


def _failures_of(server: RunningServer, uid_prefix: str) -> int:
    async def query() -> int:
        async with server.platform.db.read() as conn:
            rows = await conn.execute(
                text("SELECT count(*) FROM auth_failures WHERE uid LIKE :p"),
                {"p": uid_prefix + "%"},
            )
            return int(rows.scalar_one())

    return server.on_server(query())


def test_a_uid_over_the_schemas_width_is_101_and_never_recorded(server: RunningServer) -> None:
    exact = server.customer(uid="w" * 56 + secrets.token_hex(4))
    assert len(exact.uid) == 64
    too_long = {"uid": exact.uid + "x", "pwd": exact.pwd}
    for _ in range(6):
        assert call(
            server, "/mt/", {**too_long, "mobile": mobiles(1)[0], "content": "x"}
        ).content == (answer(101))
        assert call(server, "/mm/", too_long, method="POST").content == answer(101)
        assert tx(server, too_long, mobile=mobiles(1)[0], content="x").content == b"101"
    huge = {"uid": "h" * 30_000, "pwd": exact.pwd, "mobile": mobiles(1)[0], "content": "x"}
    assert call(server, "/mt/", huge, method="POST").content == answer(101)
    assert _failures_of(server, exact.uid[:60]) == 0
    assert _failures_of(server, "hhhh") == 0
    server.on_server(server.platform.gates.refresh())
    assert call(server, "/mm/", exact.auth()).content == remain_answer(1000)
