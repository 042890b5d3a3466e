"""Request parameters as real clients send them (PROTOCOL.md "Transport").

Pairs come from the query string, an urlencoded body or a multipart body (the
body wins on a clash). Percent-decoding works on bytes, `+` is a space, and raw
unencoded GBK or UTF-8 bytes pass through; only then are values decoded, with
GB18030 (a superset of GBK) unless `encode=utf8`, or unless no `encode` is
given and the text is plainly UTF-8 (`hongyan.protocol.charset`). A `charset`
in Content-Type is ignored: clients lie about it.

The standard library's parse_qsl decodes to str before we know the encoding
and refuses raw non-ASCII bytes, hence this small parser.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParser, parse_options_header

from hongyan.protocol.charset import looks_like_utf8

log = logging.getLogger(__name__)

GB18030 = "gb18030"
UTF8 = "utf-8"
# No `encode` given: GB18030, unless the request's text is plainly UTF-8.
GUESS = "guess"
_UTF8_NAMES = {b"utf8", b"utf-8"}
# The values the protocol reads as text (PROTOCOL.md /mt/, /rx/, /rd/); the
# others (uid, pwd, page, cmd) only make sense in ASCII.
TEXT_NAMES = (b"mobile", b"content", b"mobileids", b"mid", b"time", b"date", b"key")


class BadParams(ValueError):
    """The request's parameters cannot be read at all (e.g. a broken multipart body)."""


def parse_pairs(data: bytes) -> dict[bytes, bytes]:
    """`a=1&b=%B7%A2` → {b"a": b"1", b"b": b"\\xb7\\xa2"}; the last of a repeated name wins."""
    pairs: dict[bytes, bytes] = {}
    for chunk in data.split(b"&"):
        if not chunk:
            continue
        name, _, value = chunk.partition(b"=")
        name = unquote_to_bytes(name.replace(b"+", b" ")).strip()
        if name:
            pairs[name.lower()] = unquote_to_bytes(value.replace(b"+", b" "))
    return pairs


def parse_multipart(body: bytes, content_type: bytes) -> dict[bytes, bytes]:
    """The fields of a multipart/form-data body, as raw bytes (files included)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadParams("multipart body without a boundary")
    fields: dict[bytes, bytes] = {}
    state: dict[str, bytes | bytearray] = {"name": b"", "value": bytearray(), "header": b""}
    headers: dict[bytes, bytes] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] = bytes(state["header"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        name = bytes(state["header"]).lower()
        headers[name] = headers.get(name, b"") + data[start:end]

    def on_header_end() -> None:
        state["header"] = b""

    def on_part_begin() -> None:
        headers.clear()
        state["value"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        value = state["value"]
        assert isinstance(value, bytearray)
        value += data[start:end]

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"")
        if name:
            fields[name.lower()] = bytes(state["value"])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own error types
        raise BadParams(f"broken multipart body: {type(exc).__name__}") from exc
    return fields


def collect(query: bytes, body: bytes, content_type: bytes) -> dict[bytes, bytes]:
    """All parameters of a request; body values win over the query string."""
    pairs = parse_pairs(query)
    if body:
        media = content_type.split(b";", 1)[0].strip().lower()
        if media == b"multipart/form-data":
            pairs.update(parse_multipart(body, content_type))
        else:
            # Urlencoded, or a client that names no type (or the wrong one).
            pairs.update(parse_pairs(body))
    return pairs


def choose_encoding(pairs: dict[bytes, bytes], utf8_implied: bool = False) -> str:
    """UTF8 on `/mtutf8/` or with `encode=utf8`; GB18030 with any other `encode`
    (`encode=gbk` always means GB18030); GUESS when there is none, or an empty
    one (an empty parameter means "not given", PROTOCOL.md "Transport")."""
    if utf8_implied:
        return UTF8
    given = pairs.get(b"encode", b"").strip().lower()
    if given in _UTF8_NAMES:
        return UTF8
    return GB18030 if given else GUESS


def guess_encoding(pairs: dict[bytes, bytes]) -> str:
    """The reading of a request that names no encoding: UTF8 when its text is
    plainly UTF-8 (`hongyan.protocol.charset`), GB18030 otherwise.

    Decided once for the whole request, from all its text values together,
    rather than value by value. A client encodes a whole request one way, so
    every value is evidence for all: a GBK request whose content happens to
    read as UTF-8 stays GBK when another of its values does not (a full-width
    comma in `mobile` is A3 AC in GBK, not UTF-8), and no request is read half
    one way and half the other. The common case, UTF-8 `content` with ASCII
    numbers and ids, is the same either way: ASCII reads alike in both.
    """
    # `&` cannot be part of a multi-byte character in either encoding, so the
    # joined bytes are valid UTF-8 exactly when every value is.
    text = b"&".join(pairs.get(name, b"") for name in TEXT_NAMES)
    if text.isascii() or not looks_like_utf8(text):
        return GB18030
    log.debug("no encode given, text read as UTF-8 (PROTOCOL.md Transport, extension)")
    return UTF8


class Params:
    """Decoded access to the raw pairs of one request."""

    __slots__ = ("_encoding", "pairs")

    def __init__(self, pairs: dict[bytes, bytes], encoding: str) -> None:
        self.pairs = pairs
        self._encoding = encoding

    @property
    def encoding(self) -> str:
        """UTF8 or GB18030; a guess is made when a text value is first read,
        so a request refused before that (a wrong password) costs no guess."""
        if self._encoding == GUESS:
            self._encoding = guess_encoding(self.pairs)
        return self._encoding

    def raw(self, name: str) -> bytes:
        return self.pairs.get(name.encode(), b"")

    def text(self, name: str) -> str:
        """The value decoded; raises UnicodeDecodeError on bytes that do not decode."""
        return self.raw(name).decode(self.encoding)

    def ascii(self, name: str) -> str:
        """A value that only makes sense in ASCII (uid, pwd, page); others become '?'."""
        return self.raw(name).decode("ascii", "replace").strip()
