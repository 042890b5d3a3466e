"""Accepted sends are charged exactly what PROTOCOL.md says, and stored as sent.

Where test_fuzz_endpoints.py throws anything at the server, these requests are
all well-formed /mt/ sends, in every way a client may encode them, so that most
are accepted and the charge can be checked against the spec's own rule:
1 part up to 70 characters, above that ceil(len/67), per valid number; invalid
numbers are stored as failed, reported, and not charged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

from hypothesis import event, given, note
from hypothesis import strategies as st
from sqlalchemy import select

from hongyan.store.schema import submissions
from tests.conftest import RunningServer
from tests.property.conftest import Pool
from tests.property.strategies import (
    chance,
    clean_content,
    fixed_lines,
    good_times,
    hot_numbers,
    invalid_entries,
    lookalike_mobiles,
    multipart,
    urlencoded,
    valid_mobiles,
)
from tests.property.wire import (
    Answer,
    Books,
    NewRows,
    RawRequest,
    check_books,
    fuzz_settings,
    read_answer,
)

# The spec's valid numbers (ASCII digits), and the canonical form each is stored as.
SPEC_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
SPEC_FIXED_LINE = re.compile(r"0[0-9]{2,3}[0-9]{7,8}")
CANONICAL = re.compile(r"1[3-9][0-9]{9}|0[0-9]{9,11}")


def spec_number(entry: str) -> str | None:
    if m := SPEC_MOBILE.fullmatch(entry):
        return m.group(1)
    return entry if SPEC_FIXED_LINE.fullmatch(entry) else None


def spec_parts(content: str) -> set[int]:
    """Parts of a text; with characters outside the BMP either count is accepted
    (the spec says "characters", carriers count UTF-16 units)."""
    counts = {len(content), len(content.encode("utf-16-le")) // 2}
    return {1 if n <= 70 else math.ceil(n / 67) for n in counts}


@dataclass(frozen=True)
class Send:
    request: RawRequest
    account: str
    entries: list[str]  # as the client wrote them, trimmed
    content: str
    ids: list[str]
    path: str


def _invalid(entry: str) -> bool:
    return spec_number(entry) is None and not re.fullmatch(r"\+?[0-9]{9,}", entry)


@st.composite
def sends(
    draw: st.DrawFn,
    pool: dict[str, tuple[str, str]],
    accounts: list[str],
    lookalikes: bool = False,
) -> Send:
    account = draw(st.sampled_from(accounts))
    uid, pwd = pool[account]
    valid = st.one_of(valid_mobiles, valid_mobiles, fixed_lines, hot_numbers)
    entries = draw(st.lists(valid, min_size=1, max_size=5))
    for _ in range(draw(st.integers(1 if lookalikes else 0, 3))):
        bad = draw(lookalike_mobiles if lookalikes else invalid_entries.filter(_invalid))
        entries.insert(draw(st.integers(0, len(entries))), bad)
    separator = draw(st.sampled_from([",", "，", ", ", " , ", ",\t"]))
    content = draw(clean_content.filter(lambda c: "\r" not in c))
    ids = draw(
        st.lists(st.from_regex(r"[0-9A-Za-z_-]{0,40}", fullmatch=True), max_size=len(entries) + 1)
    )
    path = draw(st.sampled_from(["/mt/", "/mt", "/mtutf8/", "/mtutf8"]))
    charset = "utf-8" if path.startswith("/mtutf8") else draw(st.sampled_from(["gbk", "utf-8"]))
    mobile = separator.join(entries)
    params: list[tuple[bytes, bytes]] = [
        (b"uid", uid.encode()),
        (b"pwd", (pwd.upper() if chance(draw, 1, 5) else pwd).encode()),
    ]
    if charset == "gbk":
        # GB18030 is the default reading; `encode=gbk` only where GBK holds the text.
        params += [(b"mobile", mobile.encode("gb18030")), (b"content", content.encode("gb18030"))]
        if _in_gbk(mobile + content) and chance(draw, 1, 3):
            params.append((b"encode", b"gbk"))
    else:
        params.append((b"mobile", mobile.encode()))
        params.append((b"content", content.encode()))
        if not path.startswith("/mtutf8"):
            params.append((b"encode", draw(st.sampled_from([b"utf8", b"UTF-8", b"utf-8"]))))
    if ids:
        params.append((b"mobileids", ",".join(ids).encode()))
    if chance(draw, 1, 3):
        params.append((b"mid", draw(st.from_regex(r"[0-9]{0,6}", fullmatch=True)).encode()))
    if chance(draw, 1, 3):
        params.append((b"time", draw(st.one_of(st.just(""), good_times)).encode()))
    params = draw(st.permutations(params))

    method = draw(st.sampled_from(["GET", "POST"]))
    way = "query" if method == "GET" else draw(st.sampled_from(["form", "query", "multipart"]))
    headers: list[tuple[bytes, bytes]] = []
    if way == "query":
        target = path.encode() + b"?" + draw(urlencoded(params, in_url=True, bars=True))
        body = b""
    elif way == "form":
        target = path.encode()
        body = draw(urlencoded(params, in_url=False, bars=True))
        headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    else:
        target = path.encode()
        content_type, body = draw(multipart(params))
        headers.append((b"Content-Type", content_type))
    request = RawRequest(method.encode(), target, body, headers)
    trimmed = [e.strip(" \t") for e in entries]
    return Send(request, account, trimmed, content, ids, path)


def _in_gbk(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _credentials(pool: Pool) -> dict[str, tuple[str, str]]:
    return {key: (c.uid, c.pwd) for key, c in pool.customers.items()}


def _post(
    server: RunningServer, pool: Pool, send: Send
) -> tuple[Answer, dict[str, Books], dict[str, Books], NewRows | None]:
    note(repr(send.request.encode()[:3000]))
    before = pool.ledgers.books()
    status, headers, body = server.raw(send.request.encode())
    after = pool.ledgers.books()
    endpoint = "mtutf8" if send.path.startswith("/mtutf8") else "mt"
    answer = read_answer(endpoint, status, headers, body)
    note(f"answer: {answer.text!r}")
    event(f"{send.account} -> {answer.stat}")
    new = check_books(
        pool.ledgers, before, after, charged_account=send.account, answer=answer, sending=True
    )
    return answer, before, after, new


@fuzz_settings(150)
@given(data=st.data())
def test_a_valid_send_is_accepted_and_charged_by_the_spec(
    server: RunningServer, pool: Pool, data
) -> None:
    """Huge balance, limits off: every valid send is 100 and costs parts x valid numbers."""
    send = data.draw(sends(_credentials(pool), ["rich"]), label="send")
    answer, before, after, new = _post(server, pool, send)
    assert answer.stat == 100, f"a valid send answered {answer.text!r}"
    assert new is not None

    numbers = [spec_number(e) for e in send.entries]
    valid = [n for n in numbers if n is not None]
    (content, parts), *_ = new.submissions
    assert content == send.content, f"stored {content!r}, sent {send.content!r}"
    assert parts in spec_parts(send.content), f"{parts} parts for {len(send.content)} chars"
    drop = before["rich"].balance - after["rich"].balance
    assert drop == parts * len(valid), f"charged {drop} for {len(valid)} numbers x {parts} parts"

    # Every number is stored in order: valid ones normalised and charged, the rest failed.
    assert [m[0] for m in new.messages if m[2]] == valid
    assert len(new.messages) == len(send.entries), "every number given is a record"
    failed = [m for m in new.messages if not m[2]]
    assert all(m[3] not in ("0", "100") for m in failed), f"invalid numbers not failed: {failed}"
    reports = after["rich"].reports - before["rich"].reports
    assert reports == len(failed), f"{len(failed)} invalid numbers but {reports} failed reports"
    for i, message in enumerate(new.messages):
        if i < len(send.ids) and send.ids[i]:
            assert message[4] == send.ids[i], f"number {i} has id {message[4]!r}"
        else:
            assert message[4], f"number {i} got no id"

    # /mm/ tells the same story as the books.
    assert _remain(server, pool, "") == after["rich"].balance
    assert _remain(server, pool, "send") == after["rich"].sent_total


def _remain(server: RunningServer, pool: Pool, cmd: str) -> int:
    rich = pool["rich"]
    target = f"/mm/?uid={rich.uid}&pwd={rich.pwd}&cmd={cmd}".encode()
    answer = read_answer("mm", *server.raw(RawRequest(b"GET", target).encode()))
    assert answer.remain is not None, answer.text
    return answer.remain


@fuzz_settings(100)
@given(data=st.data())
def test_sends_on_limited_and_poor_accounts_cost_what_they_store(
    server: RunningServer, pool: Pool, data
) -> None:
    """Default limits (107, 110) and a small balance (102): a refusal costs nothing,
    an acceptance exactly what its messages say (check_books)."""
    send = data.draw(sends(_credentials(pool), ["limited", "poor"]), label="send")
    answer, *_ = _post(server, pool, send)
    assert answer.stat in (100, 102, 107, 110), f"a valid send answered {answer.text!r}"


@fuzz_settings(30)
@given(data=st.data())
def test_numbers_with_non_ascii_digits_are_not_charged_as_they_are(
    server: RunningServer, pool: Pool, data
) -> None:
    """`1[3-9]` + 9 digits means ASCII digits: a number written with a full-width or
    Arabic-Indic digit is either normalised to ASCII or refused, never stored and
    charged as it came."""
    send = data.draw(sends(_credentials(pool), ["rich"], lookalikes=True), label="send")
    answer, _before, _after, new = _post(server, pool, send)
    assert answer.stat == 100, f"a send with valid numbers answered {answer.text!r}"
    assert new is not None
    for mobile, _parts, charged, *_ in new.messages:
        if charged:
            assert CANONICAL.fullmatch(mobile), f"charged and queued for {mobile!r}"


@fuzz_settings(20)
@given(
    mid=st.text(st.sampled_from("0123456789０１２３٠١٢٣"), min_size=1, max_size=6).filter(
        lambda m: not m.isascii()
    )
)
def test_mid_of_non_ascii_digits_never_reaches_the_source_number(
    server: RunningServer, pool: Pool, mid: str
) -> None:
    """`mid`: up to 6 digits appended to the extension code to form the source number;
    a source number is ASCII digits, so a mid of other digits is refused or normalised."""
    rich = pool["rich"]
    query = urlencoded_ascii(
        {"uid": rich.uid, "pwd": rich.pwd, "mobile": "13900008888", "content": "hi", "mid": mid}
    )
    before = pool.ledgers.books()["rich"]
    answer = read_answer("mt", *server.raw(RawRequest(b"GET", b"/mt/?" + query).encode()))
    note(f"mid={mid!r}: {answer.text!r}")
    if answer.stat == 100:
        source = server.on_server(_sources(server, pool.ledgers.id_of("rich"), before))
        assert all(s.isascii() and s.isdigit() for s in source), f"source numbers {source!r}"


def urlencoded_ascii(pairs: dict[str, str]) -> bytes:
    """UTF-8, every value percent-encoded, `encode=utf8`."""
    pairs = {**pairs, "encode": "utf8"}
    return b"&".join(
        name.encode() + b"=" + quote_from_bytes(value.encode(), safe="").encode()
        for name, value in pairs.items()
    )


async def _sources(server: RunningServer, account_id: int, before: Books) -> list[str]:
    async with server.platform.db.read() as conn:
        rows = await conn.execute(
            select(submissions.c.source).where(
                submissions.c.account_id == account_id,
                submissions.c.id > before.last_submission,
            )
        )
        return [source for (source,) in rows]
