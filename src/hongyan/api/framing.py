"""Request heads as bytes: the framing the HTTP protocol does itself (api/server.py).

Pure code, no I/O: a head gathered from a connection's bytes within its
bounds (`HeadReader`), its body's framing, where a chunked body ends
(`ChunkedReader`), its path (also of a head not complete yet), and the
escape of raw high bytes in its request line.

Real clients of this protocol put raw, unencoded GBK or UTF-8 bytes in the
URL (PROTOCOL.md "Transport"). HTTP parsers rightly refuse such a request
line, so before the parser sees it every byte >= 0x80 of the request line is
percent-escaped. Parameters are percent-decoded on bytes, so `%B7` and a raw
0xB7 reach the API as the same byte: the escape is lossless. No parser offers
this leniency (llhttp's cover headers and chunking, not the URL).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from hongyan.api.door import Refusal
from hongyan.api.limits import HttpSettings

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
HEAD_END = re.compile(rb"\r?\n\r?\n")
HUGE = 1 << 62  # a Content-Length longer than any limit
# Bytes of the head end pattern that may sit at the end of what was searched.
_HEAD_END_OVERLAP = 3


def _escape(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group(0)[0]


def escape_request_line(head: bytes) -> bytes:
    """The head with high bytes of its request line escaped and leading blank lines dropped."""
    head = head.lstrip(b"\r\n")
    end = head.find(b"\n")
    line, rest = head[:end], head[end:]
    return _HIGH_BYTE.sub(_escape, line) + rest


class HeadReader:
    """One request head at a time, from the bytes of a connection, within bounds."""

    def __init__(self, limits: HttpSettings) -> None:
        self._limits = limits
        self._head = bytearray()
        self._searched = 0  # bytes of _head already searched for its end
        self._blank = 0  # blank-line bytes skipped since the last head

    def __bool__(self) -> bool:
        """A head has begun."""
        return bool(self._head)

    @property
    def path(self) -> str | None:
        return request_path(self._head)

    def skip_blank(self, data: bytes) -> bytes | None:
        """`data` without the blank lines before a head (RFC 9112 §2.2); None once
        there were more of them than the bound of a head: never a request."""
        stripped = data.lstrip(b"\r\n")
        self._blank += len(data) - len(stripped)
        return None if self._blank > self._limits.max_header_bytes else stripped

    def add(self, data: bytes) -> tuple[bytes, bytes] | Refusal | None:
        """(the head, the bytes after it) once complete; why it is refused once it
        breaks a bound; None while it may still come."""
        self._head += data
        match = HEAD_END.search(self._head, max(0, self._searched - _HEAD_END_OVERLAP))
        self._searched = len(self._head)
        refusal = head_refusal(self._head, match.end() if match else None, self._limits)
        if refusal is not None or match is None:
            return refusal
        head, rest = bytes(self._head[: match.end()]), bytes(self._head[match.end() :])
        self.clear()
        return head, rest

    def clear(self) -> None:
        self._head.clear()
        self._searched = self._blank = 0


def head_refusal(head: bytearray, end: int | None, limits: HttpSettings) -> Refusal | None:
    """Why the head gathered so far (complete at `end`, or not yet) is refused."""
    size = len(head) if end is None else end
    # A head smaller than this is within every bound: sizes are at least 1 KiB,
    # and a header line takes at least 3 bytes (`a:\n`).
    if size < min(1024, 3 * limits.max_headers):
        return None  # the common case
    line_end = head.find(b"\n", 0, size)
    if line_end < 0:
        return Refusal.URL_TOO_LONG if size > limits.max_request_line_bytes else None
    if line_end > limits.max_request_line_bytes:
        return Refusal.URL_TOO_LONG
    if size - line_end > limits.max_header_bytes:
        return Refusal.HEAD_TOO_LARGE
    # The blank line that ends a head is not a header.
    headers = head.count(b"\n", line_end + 1, size) - (0 if end is None else 1)
    if headers > limits.max_headers:
        return Refusal.TOO_MANY_HEADERS
    return None


def expects_continue(head: bytes) -> bool:
    """The client waits for `100 Continue` before its body (RFC 9110 §10.1.1)."""
    lowered = head.lower()
    return b"expect:" in lowered and b"100-continue" in lowered


def body_framing(head: bytes) -> tuple[int, bool]:
    """(Content-Length, chunked) of a request head; a bad length is 0 (the parser refuses it)."""
    length, chunked = 0, False
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            # Not digits: 0, and the parser refuses it; int() of 5,000 digits would raise.
            length = (int(value) if len(value) < 16 else HUGE) if value.isdigit() else 0
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def request_path(head: bytes | bytearray) -> str | None:
    """The path of a request head, complete or not (None before the target starts)."""
    line = bytes(head[: head.find(b"\n")] if b"\n" in head else head)
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[1]:
        return None
    target = parts[1]
    if not target.startswith(b"/"):  # absolute-form, RFC 9112 §3.2.2
        scheme_end = target.find(b"://")
        slash = target.find(b"/", scheme_end + 3) if scheme_end >= 0 else -1
        target = target[slash:] if slash >= 0 else b"/"
    path = target.split(b"?", 1)[0].decode("latin-1")
    return unquote(path) if "%" in path else path


# A chunk-size line (the size in hex and any chunk extensions): nothing real
# comes near this.
CHUNK_LINE_MAX = 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ChunkedReader:
    """Where a chunked body ends (RFC 9112 §7.1), from its bytes as they come.

    The parser knows it too, but only once it has been handed the bytes after
    the end, which are the next requests' heads: those must be framed, bounded
    and counted like every head (api/server.py), not handed on unread. Lines
    end in CRLF or a bare LF, as the parser takes them; what the parser would
    refuse is refused here, so the two never disagree on where a body ends."""

    def __init__(self, limits: HttpSettings) -> None:
        self._trailer_max = limits.max_header_bytes
        self._line = bytearray()  # a line begun in an earlier read
        self._left = 0  # bytes of chunk data still to come
        self._after_data = False  # the line ending the data of a chunk is next
        self._in_trailer = False  # past the last chunk: trailer fields, then a blank line
        self._trailer = 0  # bytes of trailer fields so far
        self.done = False

    def scan(self, data: bytes) -> int | None:
        """How many bytes of `data` are the body's: all of them while it goes on,
        fewer once its end is among them (then `done`). None if they cannot be a
        chunked body, or break a bound."""
        pos, end = 0, len(data)
        while pos < end and not self.done:
            if self._left:
                take = min(self._left, end - pos)
                pos += take
                self._left -= take
                self._after_data = not self._left
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:]
                pos = end
                if len(self._line) > (self._trailer_max if self._in_trailer else CHUNK_LINE_MAX):
                    return None
                break
            line = bytes(self._line + data[pos:newline])
            self._line.clear()
            pos = newline + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not self._line_read(line):
                return None
        return pos

    def _line_read(self, line: bytes) -> bool:
        if self._after_data:  # CRLF after chunk-data
            self._after_data = False
            return not line
        if self._in_trailer:
            self._trailer += len(line) + 2
            self.done = not line
            return self._trailer <= self._trailer_max
        size = line.split(b";", 1)[0].rstrip(b" \t")
        if not size or len(size) > 15 or not _HEX.issuperset(size):
            return False
        self._left = int(size, 16)
        self._in_trailer = not self._left
        return len(line) <= CHUNK_LINE_MAX
