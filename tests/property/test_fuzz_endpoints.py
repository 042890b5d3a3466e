"""Fuzzing every customer endpoint with raw HTTP requests (PROTOCOL.md "Transport").

Hypothesis builds whole requests byte by byte (tests/property/strategies.py):
/mt/ /mt /mtutf8/ /mm/ /rd/ and unknown paths; GET, POST and other methods;
parameters in the query string, an urlencoded body, a multipart body or both;
percent-encoded in upper or lower case, with `+`, or not encoded at all; text
in GBK, GB18030, UTF-8, UTF-16 or random bytes, with a matching, missing or
lying `encode`; random Content-Types, chunked bodies, HTTP/1.0; valid
credentials (also upper-case pwd) of accounts with and without limits, a frozen,
an IP-bound and an API-disabled account, and wrong, unknown, missing or garbage
credentials. Properties:

1. every answer is a protocol answer (status, Content-Length, charset, one of
   the protocol's forms with the spec's own stat texts);
2. a request not answered `stat=100` on /mt/ changes no account's books; an
   accepted send is charged exactly what its messages say, in one ledger row;
3. the account gates answer what PROTOCOL.md says for the credentials sent;
4. a readable GET/POST request never fails inside the server (103); a body
   over its endpoint's limit (api/limits.py) is refused with 103 by design.
"""

from __future__ import annotations

import re

from hypothesis import event, given, note
from hypothesis import strategies as st

from hongyan.api.limits import HttpSettings, body_limit
from tests.conftest import RunningServer
from tests.property.conftest import BOUND_ADDRESS, GATE_STAT, SEND_GATE_STAT, Pool
from tests.property.strategies import Case, requests
from tests.property.wire import (
    ENDPOINTS,
    Answer,
    RawRequest,
    check_books,
    fuzz_settings,
    read_answer,
)

FUZZ = fuzz_settings(600)

_LENIENT = re.compile(rb"sms&stat=([0-9]+)&")


def _credentials(pool: Pool) -> dict[str, tuple[str, str]]:
    return {key: (c.uid, c.pwd) for key, c in pool.customers.items()}


def _send(server: RunningServer, case: Case) -> tuple[int, dict[str, str], bytes]:
    raw = case.raw
    note(f"request ({case.credentials.describe} credentials of {case.credentials.account}):")
    note(repr(raw[:3000]))
    status, headers, body = server.raw(raw)
    note(f"answer: HTTP {status} {headers} {body[:300]!r}")
    stat = _LENIENT.match(body)
    outcome = stat.group(1).decode() if stat else repr(body[:12])
    event(f"{case.endpoint or 'unknown'} {case.method} {case.credentials.account} -> {outcome}")
    return status, headers, body


def _lenient_stat(body: bytes) -> Answer:
    """The stat of an answer, without judging its form (that is test 1's job)."""
    m = _LENIENT.match(body)
    stat = int(m.group(1)) if m else None
    return Answer("message" if m else "other", body.decode("gbk", "replace"), stat=stat)


@FUZZ
@given(data=st.data())
def test_every_request_gets_a_protocol_answer(server: RunningServer, pool: Pool, data) -> None:
    case = data.draw(requests(_credentials(pool)), label="case")
    status, headers, body = _send(server, case)
    answer = read_answer(case.endpoint, status, headers, body)

    # The gates, in PROTOCOL.md's order, for the credentials sent.
    if case.endpoint is None or case.method not in ("GET", "POST") or answer.stat == 103:
        return
    if case.credentials.account is None:
        assert answer.stat in (101, 114), (
            f"{case.credentials.describe} credentials: {answer.text!r}"
        )
        return
    key = case.credentials.account
    gate = GATE_STAT.get(key) or (SEND_GATE_STAT.get(key) if case.sending else None)
    if gate is not None:
        assert answer.stat == gate, f"the {key} account must get {gate}: {answer.text!r}"
        return
    assert answer.stat not in (101, 109, 114, 116, 117, 120), (
        f"valid credentials ({case.credentials.describe}) of the {key} account: {answer.text!r}"
    )
    if case.endpoint == "mm":
        assert answer.kind == "remain", f"/mm/ with valid credentials: {answer.text!r}"


@FUZZ
@given(data=st.data())
def test_rejected_requests_cost_nothing_and_sends_are_charged_exactly(
    server: RunningServer, pool: Pool, data
) -> None:
    case = data.draw(requests(_credentials(pool)), label="case")
    before = pool.ledgers.books()
    _status, _headers, body = _send(server, case)
    after = pool.ledgers.books()
    check_books(
        pool.ledgers,
        before,
        after,
        charged_account=case.credentials.account,
        answer=_lenient_stat(body),
        sending=case.sending,
    )


@FUZZ
@given(data=st.data())
def test_readable_requests_never_fail_inside_the_server(
    server: RunningServer, pool: Pool, data
) -> None:
    """103 is for internal failures and unreadable (multipart) bodies only.

    No value a client puts in a readable GET/POST request (a huge page, a far
    date, odd times) may make the server fail with an exception.
    """
    case = data.draw(
        requests(
            _credentials(pool),
            unknown=False,
            accounts=["rich", "rich", "limited"],
            paths=["/mt/", "/mt", "/mtutf8/", "/mm/", "/rd/", "/rd/", "/rd"],
        ),
        label="case",
    )
    _status, _headers, body = _send(server, case)
    over_limit = len(case.request.body) > body_limit(HttpSettings(), case.endpoint)
    if case.method in ("GET", "POST") and not case.multipart and not over_limit:
        assert _lenient_stat(body).stat != 103, f"internal failure: {body!r}"


# -- the client address ------------------------------------------------------------------

forwarded_values = st.one_of(
    st.sampled_from(
        [
            BOUND_ADDRESS,
            f"{BOUND_ADDRESS}, 127.0.0.1",
            f"127.0.0.1, {BOUND_ADDRESS}",
            f"1.2.3.4, {BOUND_ADDRESS}",
            f"{BOUND_ADDRESS},{BOUND_ADDRESS}",
            f"for={BOUND_ADDRESS}",
        ]
    ),
    st.ip_addresses(v=4).map(str),
)


@fuzz_settings(40)
@given(
    path=st.sampled_from(sorted(ENDPOINTS)),
    method=st.sampled_from(["GET", "POST"]),
    header=st.sampled_from(["X-Forwarded-For", "x-forwarded-for", "X-Real-IP", "Forwarded"]),
    value=forwarded_values,
)
def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    server: RunningServer, pool: Pool, path: str, method: str, header: str, value: str
) -> None:
    """PROTOCOL.md gate 5: the client IP is the socket peer; X-Forwarded-For counts only
    when the peer is a configured trusted proxy. The test server trusts none, so an
    account bound to 10.9.9.9 gets 117 from 127.0.0.1 whatever the headers claim."""
    bound = pool["bound"]
    target = f"{path}?uid={bound.uid}&pwd={bound.pwd}&mobile=13900008888&content=hi".encode()
    request = RawRequest(method.encode(), target, headers=[(header.encode(), value.encode())])
    note(repr(request.encode()))
    before = pool.ledgers.books()
    status, headers, body = server.raw(request.encode())
    after = pool.ledgers.books()
    answer = read_answer(ENDPOINTS[path], status, headers, body)
    assert answer.stat == 117, (
        f"{header}: {value} let a request past the IP binding: {answer.text!r}"
    )
    check_books(pool.ledgers, before, after, charged_account=None, answer=answer, sending=False)


# -- raw bytes in the URL ---------------------------------------------------------------


def _get(path: bytes, query: bytes) -> bytes:
    return RawRequest(b"GET", path + b"?" + query).encode()


def test_spec_example_with_raw_gbk_content_in_the_url(server: RunningServer, pool: Pool) -> None:
    """PROTOCOL.md: "values not percent-encoded at all (raw GBK or UTF-8 bytes in the URL)"."""
    rich = pool["rich"]
    query = b"uid=%s&pwd=%s&mobile=13900008888&content=%s" % (
        rich.uid.encode(),
        rich.pwd.encode(),
        "发送测试".encode("gbk"),
    )
    status, headers, body = server.raw(_get(b"/mt/", query))
    assert read_answer("mt", status, headers, body).text == "sms&stat=100&message=发送成功"


def test_raw_utf8_content_in_the_url_of_mtutf8(server: RunningServer, pool: Pool) -> None:
    rich = pool["rich"]
    query = b"uid=%s&pwd=%s&mobile=13900008888&content=%s" % (
        rich.uid.encode(),
        rich.pwd.encode(),
        "发送测试".encode(),
    )
    status, headers, body = server.raw(_get(b"/mtutf8/", query))
    assert read_answer("mtutf8", status, headers, body).text == "sms&stat=100&message=发送成功"


@fuzz_settings(40)
@given(data=st.data())
def test_raw_non_ascii_bytes_in_the_query_string_get_a_protocol_answer(
    server: RunningServer, pool: Pool, data
) -> None:
    case = data.draw(
        requests(_credentials(pool), raw_url_bytes=True, unknown=False).filter(
            lambda c: any(byte >= 0x80 for byte in c.request.target)
        ),
        label="case",
    )
    status, headers, body = _send(server, case)
    read_answer(case.endpoint, status, headers, body)
