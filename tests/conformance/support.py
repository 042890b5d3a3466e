"""Helpers of the conformance suite: building requests as clients do, reading answers.

Everything here is written from the spec (000_312d14962cb3ca1f.txt) and
PROTOCOL.md, not from the implementation: the stat texts are copied from the
document's table, and requests are encoded by hand so that the bytes on the
wire are exactly the ones a client of the document would send.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from tests.conftest import Customer, RunningServer
from tests.spec_texts import STAT_TEXTS

BEIJING = ZoneInfo("Asia/Shanghai")
FORM = "application/x-www-form-urlencoded"
GBK = "gbk"
UTF8 = "utf-8"

TEXTS = STAT_TEXTS

OK = "sms&stat=100&message=发送成功".encode("gbk")

# The (method, encoding) pairs most tests run under. `encoding` names how the
# client encodes its values and which `encode` parameter it adds.
METHODS = ("GET", "POST")
ENCODINGS = ("gbk", "utf8")
METHOD_ENCODINGS = [(m, e) for m in METHODS for e in ENCODINGS]


def answer(code: int, charset: str = GBK) -> bytes:
    """`sms&stat=<code>&message=<text>` as the server must send it."""
    return f"sms&stat={code}&message={TEXTS[code]}".encode(charset)


def remain_answer(n: int) -> bytes:
    return f"sms&stat=100&remain={n}".encode("ascii")


# -- encoding requests ------------------------------------------------------------


def charset_of(encoding: str) -> str:
    return UTF8 if encoding.lower().replace("-", "") == "utf8" else GBK


def urlencode(params: Mapping[str, str | bytes], charset: str = GBK) -> str:
    """`name=value&...`, each value percent-encoded from its bytes in `charset`
    (PHP urlencode: `+` for space, everything but alphanumerics and `-_.` escaped)."""
    out = []
    for name, value in params.items():
        raw = value if isinstance(value, bytes) else value.encode(charset)
        out.append(f"{quote_plus(name)}={quote_plus(raw, safe='')}")
    return "&".join(out)


def call(
    server: RunningServer,
    path: str,
    params: Mapping[str, str | bytes],
    *,
    method: str = "GET",
    charset: str = GBK,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request with `params` in the query string (GET) or a form body (POST)."""
    encoded = urlencode(params, charset)
    if method == "GET":
        return server.http.get(f"{path}?{encoded}" if encoded else path, headers=headers)
    return server.http.post(
        path, content=encoded.encode("ascii"), headers={"Content-Type": FORM, **(headers or {})}
    )


def send(
    server: RunningServer,
    customer: Customer,
    *,
    method: str = "GET",
    encoding: str = "gbk",
    path: str = "/mt/",
    **params: str | bytes,
) -> httpx.Response:
    """`/mt/` for `customer`; `encoding="utf8"` encodes in UTF-8 and adds `encode=utf8`."""
    charset = charset_of(encoding)
    values: dict[str, str | bytes] = dict(customer.auth())
    if charset == UTF8 and "encode" not in params and path.rstrip("/") == "/mt":
        values["encode"] = "utf8"
    values.update(params)
    return call(server, path, values, method=method, charset=charset)


def raw_request(
    method: str,
    target: bytes,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    version: bytes = b"HTTP/1.1",
) -> bytes:
    lines = [method.encode() + b" " + target + b" " + version, b"Host: 127.0.0.1"]
    all_headers = {"Connection": "close", **(headers or {})}
    if body or method == "POST":
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{k}: {v}".encode("latin-1") for k, v in all_headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def multipart(
    fields: Mapping[str, str | bytes], boundary: str = "----hongyanTestBoundary7MA4"
) -> tuple[bytes, str]:
    """A multipart/form-data body with raw (unencoded) values, and its Content-Type."""
    chunks = []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + raw
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# -- reading answers ----------------------------------------------------------------


def balance(server: RunningServer, customer: Customer, *, sent: bool = False) -> int:
    """`/mm/`: parts left, or with `sent` the parts sent in total."""
    params = {**customer.auth(), **({"cmd": "send"} if sent else {})}
    body = server.get("/mm/", params).content
    match = re.fullmatch(rb"sms&stat=100&remain=(\d+)", body)
    assert match, body
    return int(match.group(1))


@dataclass(frozen=True)
class Record:
    time: str
    mobile: str
    content: str
    status: str


@dataclass(frozen=True)
class Records:
    total: int
    count: int
    pages: int
    records: list[Record]


def parse_records(body: bytes) -> Records:
    """A `/rd/` answer: `total||count||pages|#|time||mobile||content||status|#|...`."""
    if body == b"":
        return Records(0, 0, 0, [])
    text_ = body.decode("gbk")
    head, *items = text_.split("|#|")
    total, count, pages = (int(v) for v in head.split("||"))
    records = []
    for item in items:
        fields = item.split("||")
        assert len(fields) == 4, item
        records.append(Record(*fields))
    assert count == len(records), text_
    return Records(total, count, pages, records)


def records(server: RunningServer, customer: Customer, **params: str) -> Records:
    response = server.get("/rd/", {**customer.auth(), **params})
    return parse_records(response.content)


def statuses(server: RunningServer, customer: Customer) -> dict[str, str]:
    """mobile → status of every `/rd/` record of the account (first page)."""
    return {r.mobile: r.status for r in records(server, customer).records}


def stored(server: RunningServer, customer: Customer) -> list[dict[str, Any]]:
    """The account's messages as the database holds them, in the order stored.

    Only for what HTTP cannot show: text GBK cannot hold, ids, due times.
    """

    async def query() -> list[dict[str, Any]]:
        async with server.platform.db.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT m.mobile, m.mobileid, m.status, m.charged, m.created_at, m.due_at,"
                    " s.content, s.mid FROM messages m"
                    " JOIN submissions s ON s.id = m.submission_id"
                    " JOIN accounts a ON a.id = m.account_id"
                    " WHERE a.uid = :uid ORDER BY m.id"
                ),
                {"uid": customer.uid},
            )
            return [dict(row._mapping) for row in rows]

    return server.on_server(query())


# -- test data -----------------------------------------------------------------------

_numbers = itertools.count(10_000_000)


def mobiles(n: int, prefix: str = "139") -> list[str]:
    """`n` distinct valid mainland mobile numbers."""
    return [f"{prefix}{next(_numbers):08d}" for _ in range(n)]


def beijing(moment: datetime | None = None) -> datetime:
    return (moment or datetime.now(BEIJING)).astimezone(BEIJING)


@contextmanager
def switched(server: RunningServer, name: str) -> Iterator[None]:
    """A platform switch (maintenance, paused) on for the block, off after, whatever happens."""
    server.operate(lambda op: op.set_switch(name, True))
    try:
        yield
    finally:
        server.operate(lambda op: op.set_switch(name, False))
