"""Request parameters as real clients send them (PROTOCOL.md "Transport").

Pairs come from the query string, an urlencoded body or a multipart body (the
body wins on a clash). Percent-decoding works on bytes, `+` is a space, and raw
unencoded GBK or UTF-8 bytes pass through; only then are values decoded, with
GB18030 (a superset of GBK) unless `encode=utf8`, or unless no `encode` is
given and the text is plainly UTF-8 (`hongyan.protocol.charset`). A `charset`
in Content-Type is ignored: clients lie about it.

Names are decoded at once (that is how `p%77d` or `pwd+` is `pwd`), values
only when first read: the gates read `uid` and `pwd` first, so a request with
a wrong password never pays for percent-decoding the rest of its body (a 4 MB
`%XX` body cost ~0.4 s of event loop, issue 11). What is read before them
(`uid`, `pwd`, `encode`) is a short word, and one sent in more bytes than
any word has is not decoded at all (`Pairs.word`).

The standard library's parse_qsl decodes to str before we know the encoding
and refuses raw non-ASCII bytes, hence this small parser.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
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
# No parameter of the protocol is longer than `mobileids`; even percent-encoded
# and padded with blanks, a real name fits well within this. Longer names are
# not read at all (nor decoded).
MAX_NAME_BYTES = 64
# The protocol has a dozen parameters and real clients send at most ~15 (some
# with stray `&&`). Reading each field is Python work, so their number is
# bounded, as Django (DATA_UPLOAD_MAX_NUMBER_FIELDS) and Starlette (max_fields)
# bound form fields: 48,000 `a=b&` fields in a 192 KB body cost ~50 ms.
MAX_FIELDS = 256
# uid (64 characters at most), pwd (32 hex digits), encode, cmd, page: words
# far shorter than this even percent-encoded. One sent longer is none of them,
# and is not decoded: 190 KB of `%XX` in `pwd` cost ~35 ms to decode, for a 101.
MAX_WORD_BYTES = 256
# A parameter whose decoded name contains one of these is a secret in logs.
_SECRET_WORDS = (b"pwd", b"passw", b"secret")
_PLAIN_NAME = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-. ")
# A pair whose name may read as a secret: it names one, or is percent-encoded
# (`p%77d`). Other pairs are logged as they are, without Python work.
_MAYBE_SECRET = re.compile(rb"(?i)(?<![^&])([^&=]*(?:%|pwd|passw|secret)[^&=]*)(=[^&]*)?")


class BadParams(ValueError):
    """The request's parameters cannot be read at all (e.g. a broken multipart body)."""


def decode_name(raw: bytes) -> bytes | None:
    """A parameter name as the parser reads it (`P%77d+` → `pwd`); None when too long to be one."""
    if len(raw) > MAX_NAME_BYTES:
        return None
    raw = raw.replace(b"+", b" ")
    return (unquote_to_bytes(raw) if b"%" in raw else raw).strip().lower()


def _decode_value(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


class Pairs(Mapping[bytes, bytes]):
    """Parameter name → value bytes; a percent-encoded value is decoded when first read."""

    __slots__ = ("_decoded", "_encoded")

    def __init__(self) -> None:
        self._decoded: dict[bytes, bytes] = {}
        self._encoded: dict[bytes, bytes] = {}

    def set_encoded(self, name: bytes, value: bytes) -> None:
        self._decoded.pop(name, None)
        self._encoded[name] = value

    def set(self, name: bytes, value: bytes) -> None:
        self._encoded.pop(name, None)
        self._decoded[name] = value

    def update_from(self, other: Pairs) -> None:
        """Other's pairs win over ours (the body over the query string)."""
        for name, value in other._encoded.items():
            self.set_encoded(name, value)
        for name, value in other._decoded.items():
            self.set(name, value)

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        value = self._decoded.get(name)
        if value is not None:
            return value
        encoded = self._encoded.pop(name, None)
        if encoded is None:
            return default
        value = self._decoded[name] = _decode_value(encoded)
        return value

    def word(self, name: bytes) -> bytes:
        """A value that can only be a short word: one sent in over MAX_WORD_BYTES
        bytes is no valid word, and is returned as sent, cut there, undecoded."""
        encoded = self._encoded.get(name)
        if encoded is not None and len(encoded) > MAX_WORD_BYTES:
            return encoded[: MAX_WORD_BYTES + 1]
        return self.get(name, b"") or b""

    def __getitem__(self, name: bytes) -> bytes:
        encoded = self._encoded.pop(name, None)
        if encoded is None:
            return self._decoded[name]
        value = self._decoded[name] = _decode_value(encoded)
        return value

    def __iter__(self) -> Iterator[bytes]:
        yield from list(self._decoded)
        yield from list(self._encoded)

    def __len__(self) -> int:
        return len(self._decoded) + len(self._encoded)

    def __contains__(self, name: object) -> bool:
        return name in self._decoded or name in self._encoded


def parse_pairs(data: bytes) -> Pairs:
    """`a=1&b=%B7%A2` → {b"a": b"1", b"b": b"\\xb7\\xa2"}; the last of a repeated name wins."""
    chunks = data.split(b"&", MAX_FIELDS)
    if len(chunks) > MAX_FIELDS:
        raise BadParams(f"more than {MAX_FIELDS} fields")
    pairs = Pairs()
    for chunk in chunks:
        if not chunk:
            continue
        raw_name, _, value = chunk.partition(b"=")
        name = decode_name(raw_name)
        if name:
            pairs.set_encoded(name, value)
    return pairs


def redact(query: bytes) -> bytes:
    """The query string with the value of every secret-named parameter replaced by `***`.

    Names are judged decoded, as `parse_pairs` reads them (`p%77d=` and
    `pwd+=` are `pwd`); a percent-encoded name too long to be read is hidden
    whole."""
    return _MAYBE_SECRET.sub(_redact_pair, query)


def _redact_pair(match: re.Match[bytes]) -> bytes:
    raw_name, value = match.group(1), match.group(2)
    name = decode_name(raw_name)
    if name is None:
        return b"***"
    if not any(word in name for word in _SECRET_WORDS):
        return match.group(0)
    shown = raw_name if set(name) <= _PLAIN_NAME else b"***"
    return shown + b"=***" if value is not None else b"***"


def parse_multipart(body: bytes, content_type: bytes) -> dict[bytes, bytes]:
    """The fields of a multipart/form-data body, as raw bytes (files included)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadParams("multipart body without a boundary")
    fields: dict[bytes, bytes] = {}
    state: dict[str, bytes | bytearray] = {"name": b"", "value": bytearray(), "header": b""}
    headers: dict[bytes, bytes] = {}
    parts = [0]

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
        parts[0] += 1
        if parts[0] > MAX_FIELDS:
            raise BadParams(f"more than {MAX_FIELDS} fields")

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
    except BadParams:
        raise
    except Exception as exc:  # python-multipart raises its own error types
        raise BadParams(f"broken multipart body: {type(exc).__name__}") from exc
    return fields


def collect(query: bytes, body: bytes, content_type: bytes) -> Pairs:
    """All parameters of a request; body values win over the query string."""
    pairs = parse_pairs(query)
    if body:
        media = content_type.split(b";", 1)[0].strip().lower()
        if media == b"multipart/form-data":
            for name, value in parse_multipart(body, content_type).items():
                pairs.set(name, value)
        else:
            # Urlencoded, or a client that names no type (or the wrong one).
            pairs.update_from(parse_pairs(body))
    return pairs


def choose_encoding(pairs: Mapping[bytes, bytes], utf8_implied: bool = False) -> str:
    """UTF8 on `/mtutf8/` or with `encode=utf8`; GB18030 with any other `encode`
    (`encode=gbk` always means GB18030); GUESS when there is none, or an empty
    one (an empty parameter means "not given", PROTOCOL.md "Transport")."""
    if utf8_implied:
        return UTF8
    given = word(pairs, b"encode").strip().lower()
    if given in _UTF8_NAMES:
        return UTF8
    return GB18030 if given else GUESS


def guess_encoding(pairs: Mapping[bytes, bytes]) -> str:
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


def word(pairs: Mapping[bytes, bytes], name: bytes) -> bytes:
    """The value of `name`, a short word (`Pairs.word`)."""
    return pairs.word(name) if isinstance(pairs, Pairs) else pairs.get(name, b"")


class Params:
    """Decoded access to the raw pairs of one request."""

    __slots__ = ("_encoding", "pairs")

    def __init__(self, pairs: Mapping[bytes, bytes], encoding: str) -> None:
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
        """A short word (uid, pwd, cmd, page), in ASCII: other bytes become '?'.
        One sent too long to be a word is kept as sent (cut, not stripped)."""
        value = word(self.pairs, name.encode()).decode("ascii", "replace")
        return value if len(value) > MAX_WORD_BYTES else value.strip()
