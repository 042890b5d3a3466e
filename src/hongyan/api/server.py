"""How uvicorn serves the platform: options, and a request-line tolerance.

Real clients of this protocol put raw, unencoded GBK or UTF-8 bytes in the
URL (PROTOCOL.md "Transport"). HTTP parsers rightly refuse such a request
line, so before the parser sees it we percent-escape every byte >= 0x80 of
the request line. Parameters are percent-decoded on bytes, so `%B7` and a raw
0xB7 reach the API as the same byte: the escape is lossless. No parser offers
this leniency (llhttp's cover headers and chunking, not the URL), hence this
small subclass of uvicorn's own httptools protocol.

To touch request lines and never a body, it frames requests itself: it gathers
each head, escapes its request line, and passes `Content-Length` bytes of body
through untouched; so keep-alive, pipelined requests and the stray CRLF some
clients send after a body all work. A chunked body is passed through until
the parser says the message ended.
"""

from __future__ import annotations

import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# A head larger than this is handed to the parser as it is, to be refused there.
MAX_HEAD_BYTES = 64 * 1024


def _escape(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group(0)[0]


def escape_request_line(head: bytes) -> bytes:
    """The head with high bytes of its request line escaped and leading blank lines dropped."""
    head = head.lstrip(b"\r\n")
    end = head.find(b"\n")
    line, rest = head[:end], head[end:]
    return _HIGH_BYTE.sub(_escape, line) + rest


def body_framing(head: bytes) -> tuple[int, bool]:
    """(Content-Length, chunked) of a request head; a bad length is 0 (the parser refuses it)."""
    length, chunked = 0, False
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            length = int(value) if value.isdigit() else 0
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


class RawUrlTolerantProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, escaping raw high bytes in request lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = bytearray()  # a request head being gathered
        self._body_left = 0  # bytes of the current body still to pass through
        self._passthrough = False  # a chunked body: everything until the message ends

    def data_received(self, data: bytes) -> None:
        out = bytearray()
        while data:
            if self._passthrough:
                out += data
                break
            if self._body_left:
                take = min(len(data), self._body_left)
                out += data[:take]
                data = data[take:]
                self._body_left -= take
                continue
            self._head += data
            data = b""
            if not self._head.lstrip(b"\r\n"):
                self._head.clear()  # only blank lines between requests so far
                break
            match = _HEAD_END.search(self._head, len(self._head) - len(self._head.lstrip(b"\r\n")))
            if match is None:
                if len(self._head) > MAX_HEAD_BYTES:
                    out += self._head
                    self._head.clear()
                    self._passthrough = True
                break
            head = bytes(self._head[: match.end()])
            data = bytes(self._head[match.end() :])
            self._head.clear()
            out += escape_request_line(head)
            self._body_left, self._passthrough = body_framing(head)
        if out:
            super().data_received(bytes(out))
        else:
            # A partial head is still activity: keep the idle timer from closing us.
            self._unset_keepalive_if_required()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._passthrough = False


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """Options for uvicorn.run / uvicorn.Config shared by `serve` and the tests."""
    return {
        "host": host,
        "port": port,
        "http": RawUrlTolerantProtocol,
        "lifespan": "on",
        "access_log": False,  # ours redacts the query string; uvicorn's would log pwd
        "server_header": False,
        "log_config": None,
        # X-Forwarded-For is ours to judge (settings.trusted_proxies), not uvicorn's.
        "proxy_headers": False,
    }
