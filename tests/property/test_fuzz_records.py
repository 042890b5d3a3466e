"""/rd/ answers stay parseable whatever a client sent (PROTOCOL.md "/rd/ send records").

A client splits the answer on `|#|` into head and records, and each record on
`||` into time, mobile, content, status: "`||` and `|#|` inside content are
written full width". Contents and refused numbers here are made of `|`, `#`
and friends; each example sends to a number of its own and reads back only
that number's records (`key=`), so no example depends on an earlier one.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.conftest import Customer, RunningServer
from tests.property.wire import RawRequest, Record, fuzz_settings, read_answer

_numbers = itertools.count()

bar_text = st.text(st.sampled_from("||||##&{}｜＃ab测😀 \n"), min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
# A refused number: never valid (it has a letter), unique (the serial), no comma or blank.
bar_entries = st.text(st.sampled_from("|||#ab-*"), max_size=8)


@pytest.fixture(scope="module")
def sender(server: RunningServer) -> Customer:
    return server.customer(balance=10**9, rate="off", per_number="off")


def _form(pairs: dict[str, str]) -> bytes:
    return b"&".join(
        name.encode() + b"=" + quote_from_bytes(value.encode(), safe="").encode()
        for name, value in pairs.items()
    )


def _records(server: RunningServer, customer: Customer, key: str) -> tuple[Record, ...]:
    query = _form({**customer.auth(), "key": key, "encode": "utf8"})
    request = RawRequest(b"GET", b"/rd/?" + query)
    status, headers, body = server.raw(request.encode())
    note(f"/rd/ key={key!r}: {body.decode('gbk', 'replace')!r}")
    answer = read_answer("rd", status, headers, body)
    assert answer.kind == "records", f"no records for {key!r}: {answer.text!r}"
    return answer.records


def _unbarred(text: str) -> str:
    """What a client can compare: full-width bars and hashes folded (the escapes
    that keep the framing), and `?` for what GBK cannot hold."""
    folded = text.replace("｜", "|").replace("＃", "#")
    return folded.encode("gbk", "replace").decode("gbk")


@fuzz_settings(120)
@given(content=bar_text, junk=bar_entries)
def test_records_of_any_content_and_number_parse(
    server: RunningServer, sender: Customer, content: str, junk: str
) -> None:
    serial = next(_numbers)
    number = f"1370{serial:07d}"
    refused = f"{junk}x{serial}"
    body = _form(
        {**sender.auth(), "mobile": f"{number},{refused}", "content": content, "encode": "utf8"}
    )
    request = RawRequest(
        b"POST", b"/mt/", body, [(b"Content-Type", b"application/x-www-form-urlencoded")]
    )
    note(repr(request.encode()))
    status, headers, answer_body = server.raw(request.encode())
    assert read_answer("mt", status, headers, answer_body).stat == 100

    (sent,) = _records(server, sender, number)
    assert sent.mobile == number and sent.status == "0", sent
    assert _unbarred(sent.content) == _unbarred(content), f"{sent.content!r} for {content!r}"

    (failed,) = _records(server, sender, refused)
    assert _unbarred(failed.mobile) == _unbarred(refused), f"{failed.mobile!r} for {refused!r}"
    assert failed.status not in ("0", "100"), failed
    assert _unbarred(failed.content) == _unbarred(content), f"{failed.content!r} for {content!r}"
