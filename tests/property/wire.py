"""What the property tests share: the spec's stat table, a strict reader of
answers, raw HTTP requests, and the books (balance, ledger, messages) of the
accounts a test uses.

The stat table is copied from PROTOCOL.md on purpose, not imported from the
implementation: a wrong text in the implementation must fail these tests.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from hongyan.store.schema import accounts, ledger, messages, reports, submissions
from tests.spec_texts import STAT_TEXTS

if TYPE_CHECKING:
    from tests.conftest import Customer, RunningServer


# Path → endpoint; every endpoint also answers without its trailing slash.
ENDPOINTS: dict[str, str] = {
    f"/{name}{slash}": name for name in ("mt", "mtutf8", "mm", "rd") for slash in ("/", "")
}
# Paths that exist but are not customer endpoints (or not in this suite's scope).
NOT_UNKNOWN = {"/healthz", "/metrics", "/st/", "/st", "/rx/", "/rx"}

RECORDS_PAGE_SIZE = 50

_MESSAGE = re.compile(r"sms&stat=([0-9]{3})&message=([^&]*)")
_REMAIN = re.compile(r"sms&stat=100&remain=(0|[1-9][0-9]*)")
_COUNT = re.compile(r"0|[1-9][0-9]*")
_RECORD_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# `100` delivered, `0` waiting, otherwise the failure word or code (UNDELIV, MK:0001, 112).
_RECORD_STATUS = re.compile(r"[0-9A-Za-z][0-9A-Za-z:_.-]*")


def fuzz_settings(max_examples: int) -> settings:
    """Deterministic and bounded by default. For a deeper, random search:
    HONGYAN_FUZZ_SCALE=20 HONGYAN_FUZZ_RANDOM=1 pytest tests/property
    """
    scale = float(os.environ.get("HONGYAN_FUZZ_SCALE", "1"))
    return settings(
        max_examples=max(1, int(max_examples * scale)),
        deadline=None,
        derandomize=os.environ.get("HONGYAN_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# -- answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    time: str
    mobile: str
    content: str
    status: str


@dataclass(frozen=True)
class Answer:
    """A protocol answer, read strictly."""

    kind: str  # "message", "remain", "records" or "empty"
    text: str
    stat: int | None = None
    remain: int | None = None
    total: int | None = None
    pages: int | None = None
    records: tuple[Record, ...] = ()

    @property
    def ok(self) -> bool:
        return self.kind != "message" or self.stat == 100


def read_answer(endpoint: str | None, status: int, headers: dict[str, str], body: bytes) -> Answer:
    """Check one HTTP answer against the protocol; `endpoint` None is an unknown path.

    Raises AssertionError saying what is wrong.
    """
    shown = body[:300]
    assert b"<html" not in body.lower() and b"<!doctype" not in body.lower(), f"HTML: {shown!r}"
    assert b"Traceback" not in body and b'File "' not in body, f"stack trace: {shown!r}"
    expected_status = 404 if endpoint is None else 200
    assert status == expected_status, f"HTTP {status}, expected {expected_status}: {shown!r}"
    assert "content-length" in headers, f"no Content-Length: {headers}"
    assert headers["content-length"].isdigit(), f"bad Content-Length {headers['content-length']!r}"
    assert int(headers["content-length"]) == len(body), (
        f"Content-Length {headers['content-length']} but {len(body)} bytes: {shown!r}"
    )
    assert "chunked" not in headers.get("transfer-encoding", "").lower(), "chunked answer"
    charset = "utf-8" if endpoint == "mtutf8" else "gbk"
    content_type = headers.get("content-type", "").replace(" ", "").lower()
    assert content_type == f"text/plain;charset={charset}", f"Content-Type {content_type!r}"
    assert not body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")), "BOM"
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        raise AssertionError(f"answer is not {charset}: {shown!r}") from exc

    if text == "":
        assert endpoint == "rd", f"empty answer from {endpoint or 'an unknown path'}"
        return Answer("empty", text)
    if (m := _MESSAGE.fullmatch(text)) is not None:
        stat, message = int(m.group(1)), m.group(2)
        assert stat in STAT_TEXTS, f"stat {stat} is not in the spec's table: {text!r}"
        assert message == STAT_TEXTS[stat], (
            f"stat {stat} says {message!r}, the spec says {STAT_TEXTS[stat]!r}"
        )
        if stat == 100:
            assert endpoint in ("mt", "mtutf8"), f"{text!r} from {endpoint or 'an unknown path'}"
        if endpoint is None:
            assert stat != 100, "an unknown path answered success"
        return Answer("message", text, stat=stat)
    if (m := _REMAIN.fullmatch(text)) is not None:
        assert endpoint == "mm", f"{text!r} from {endpoint or 'an unknown path'}"
        return Answer("remain", text, stat=100, remain=int(m.group(1)))
    assert endpoint == "rd", f"not a protocol answer: {text[:300]!r}"
    return read_records(text)


def read_records(text: str) -> Answer:
    """`total||count||pages|#|time||mobile||content||status|#|...` as a client splits it."""
    head, *items = text.split("|#|")
    numbers = head.split("||")
    assert len(numbers) == 3 and all(_COUNT.fullmatch(n) for n in numbers), (
        f"not a protocol answer (bad /rd/ head {head[:100]!r}): {text[:300]!r}"
    )
    total, count, pages = map(int, numbers)
    assert count == len(items), (
        f"/rd/ says {count} records but has {len(items)} |#|-separated items: {text[:500]!r}"
    )
    assert 1 <= count <= RECORDS_PAGE_SIZE, f"/rd/ page of {count} records: {text[:300]!r}"
    assert count <= total, f"/rd/ page of {count} out of {total}: {text[:300]!r}"
    assert pages == math.ceil(total / RECORDS_PAGE_SIZE), f"{total} records in {pages} pages"
    records = []
    for item in items:
        fields = item.split("||")
        assert len(fields) == 4, f"/rd/ record of {len(fields)} ||-fields: {item[:300]!r}"
        record = Record(*fields)
        assert _RECORD_TIME.fullmatch(record.time), f"/rd/ record time {record.time!r}"
        assert record.mobile, f"/rd/ record without a number: {item[:300]!r}"
        assert _RECORD_STATUS.fullmatch(record.status), (
            f"/rd/ record status {record.status!r} in {item[:300]!r}"
        )
        records.append(record)
    return Answer("records", text, stat=100, total=total, pages=pages, records=tuple(records))


# -- raw requests ---------------------------------------------------------------------


@dataclass
class RawRequest:
    method: bytes
    target: bytes
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    version: bytes = b"HTTP/1.1"
    chunks: Sequence[int] | None = None  # chunk sizes: send the body chunked
    content_length: bool = True
    close: bool = True  # Connection: close; else the connection is kept alive

    def encode(self) -> bytes:
        lines = [b"%s %s %s" % (self.method, self.target, self.version)]
        if self.version == b"HTTP/1.1":
            lines.append(b"Host: 127.0.0.1")
        lines += [name + b": " + value for name, value in self.headers]
        body = self.body
        if self.chunks is not None and self.version == b"HTTP/1.1":
            lines.append(b"Transfer-Encoding: chunked")
            body = _chunked(self.body, self.chunks)
        elif self.body or self.content_length:
            lines.append(b"Content-Length: %d" % len(self.body))
        if self.close:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _chunked(body: bytes, sizes: Sequence[int]) -> bytes:
    out, rest = [], body
    for size in sizes:
        if not rest:
            break
        piece, rest = rest[: max(1, size)], rest[max(1, size) :]
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
    if rest:
        out.append(b"%x\r\n%s\r\n" % (len(rest), rest))
    return b"".join(out) + b"0\r\n\r\n"


def pct(data: bytes, *, upper: bool = True) -> bytes:
    """Every byte percent-encoded."""
    return b"".join((b"%%%02X" if upper else b"%%%02x") % byte for byte in data)


def url_safe(data: bytes) -> bytes:
    """Bytes as they are, but for those HTTP forbids in a request target (and `#`)."""
    return b"".join(
        bytes([byte]) if 0x21 <= byte <= 0x7E and byte != 0x23 else b"%%%02X" % byte
        for byte in data
    )


# -- the books of the accounts under test -----------------------------------------------


@dataclass(frozen=True)
class Books:
    balance: int
    sent_total: int
    ledger: int
    messages: int
    submissions: int
    reports: int
    last_ledger: int
    last_message: int
    last_submission: int

    def counts(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.balance,
            self.sent_total,
            self.ledger,
            self.messages,
            self.submissions,
            self.reports,
        )


@dataclass(frozen=True)
class NewRows:
    """What one accepted request added to an account."""

    messages: list[tuple[str, int, int, str, str]]  # mobile, parts, charged, status, mobileid
    ledger: list[tuple[int, int, str]]  # delta, balance_after, kind
    submissions: list[tuple[str, int]]  # content, parts


class Ledgers:
    """Reads the books of a fixed set of accounts on the server's own loop."""

    def __init__(self, server: RunningServer, customers: dict[str, Customer]) -> None:
        self.server = server
        self.customers = customers
        self.ids: dict[str, int] = server.on_server(self._ids([c.uid for c in customers.values()]))

    def id_of(self, key: str) -> int:
        return self.ids[self.customers[key].uid]

    async def _ids(self, uids: list[str]) -> dict[str, int]:
        async with self.server.platform.db.read() as conn:
            rows = await conn.execute(
                select(accounts.c.uid, accounts.c.id).where(accounts.c.uid.in_(uids))
            )
            return {uid: account_id for uid, account_id in rows}

    def books(self) -> dict[str, Books]:
        by_id = self.server.on_server(self._books(list(self.ids.values())))
        return {key: by_id[self.ids[c.uid]] for key, c in self.customers.items()}

    async def _books(self, ids: list[int]) -> dict[int, Books]:
        async with self.server.platform.db.read() as conn:
            rows = await conn.execute(
                select(accounts.c.id, accounts.c.balance, accounts.c.sent_total).where(
                    accounts.c.id.in_(ids)
                )
            )
            balances = {account_id: (balance, sent) for account_id, balance, sent in rows}
            tallies = {}
            for table in (ledger, messages, submissions, reports):
                rows = await conn.execute(
                    select(table.c.account_id, func.count(), func.max(table.c.id))
                    .where(table.c.account_id.in_(ids))
                    .group_by(table.c.account_id)
                )
                tallies[table.name] = {a: (n, last or 0) for a, n, last in rows}
        out = {}
        for account_id in ids:
            led = tallies["ledger"].get(account_id, (0, 0))
            msg = tallies["messages"].get(account_id, (0, 0))
            sub = tallies["submissions"].get(account_id, (0, 0))
            rep = tallies["reports"].get(account_id, (0, 0))
            balance, sent = balances[account_id]
            out[account_id] = Books(
                int(balance), int(sent), led[0], msg[0], sub[0], rep[0], led[1], msg[1], sub[1]
            )
        return out

    def new_rows(self, key: str, before: Books) -> NewRows:
        return self.server.on_server(self._new_rows(self.id_of(key), before))

    async def _new_rows(self, account_id: int, before: Books) -> NewRows:
        async with self.server.platform.db.read() as conn:
            msgs = await conn.execute(
                select(
                    messages.c.mobile,
                    messages.c.parts,
                    messages.c.charged,
                    messages.c.status,
                    messages.c.mobileid,
                )
                .where(messages.c.account_id == account_id, messages.c.id > before.last_message)
                .order_by(messages.c.id)
            )
            entries = await conn.execute(
                select(ledger.c.delta, ledger.c.balance_after, ledger.c.kind)
                .where(ledger.c.account_id == account_id, ledger.c.id > before.last_ledger)
                .order_by(ledger.c.id)
            )
            subs = await conn.execute(
                select(submissions.c.content, submissions.c.parts)
                .where(
                    submissions.c.account_id == account_id,
                    submissions.c.id > before.last_submission,
                )
                .order_by(submissions.c.id)
            )
            return NewRows(
                [tuple(r) for r in msgs],  # type: ignore[misc]
                [tuple(r) for r in entries],  # type: ignore[misc]
                [tuple(r) for r in subs],  # type: ignore[misc]
            )


def check_books(
    ledgers: Ledgers,
    before: dict[str, Books],
    after: dict[str, Books],
    *,
    charged_account: str | None,
    answer: Answer,
    sending: bool,
) -> NewRows | None:
    """Property 2: a rejected request changes nothing; an accepted send is charged exactly.

    `charged_account` is the pool account whose valid credentials the request carried;
    `sending` says it went to /mt/ or /mtutf8/.
    """
    accepted = sending and answer.kind == "message" and answer.stat == 100
    if accepted:
        assert charged_account is not None, "a send was accepted without valid credentials"
    new = None
    for key in before:
        b, a = before[key], after[key]
        assert a.balance >= 0, f"{key}: negative balance {a.balance}"
        if not (accepted and key == charged_account):
            assert a.counts() == b.counts(), (
                f"{key}: books changed by a request answered {answer.text[:80]!r}: (balance, "
                f"sent, ledger, messages, submissions, reports) {b.counts()} -> {a.counts()}"
            )
            continue
        new = ledgers.new_rows(key, b)
        drop = b.balance - a.balance
        charged = sum(m[2] for m in new.messages)
        assert len(new.submissions) == 1, f"{key}: {len(new.submissions)} submissions for one send"
        assert new.messages, f"{key}: a send accepted with no messages stored"
        assert drop > 0, f"{key}: an accepted send cost {drop}"
        assert drop == charged, f"{key}: balance dropped by {drop}, messages charged {charged}"
        assert a.sent_total - b.sent_total == drop, f"{key}: sent total up by a different amount"
        assert len(new.ledger) == 1, f"{key}: {len(new.ledger)} ledger rows for one send"
        assert new.ledger[0][0] == -drop, f"{key}: ledger delta {new.ledger[0][0]}, drop {drop}"
        assert new.ledger[0][1] == a.balance, f"{key}: ledger balance_after {new.ledger[0][1]}"
        for mobile, parts, charge, *_ in new.messages:
            assert charge in (0, parts), f"{key}: {mobile} charged {charge} for {parts} parts"
    return new
