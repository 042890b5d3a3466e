"""How uvicorn serves the platform: options, and a request-line tolerance.

Real clients of this protocol put raw, unencoded GBK or UTF-8 bytes in the
URL (PROTOCOL.md "Transport"). HTTP parsers rightly refuse such a request
line, so before the parser sees it we percent-escape every byte >= 0x80 of
the request line. Parameters are percent-decoded on bytes, so `%B7` and a raw
0xB7 reach the API as the same byte: the escape is lossless. No parser offers
this leniency (llhttp's cover headers and chunking, not the URL), hence this
small subclass of uvicorn's own httptools protocol.
"""

from __future__ import annotations

import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _escape(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group(0)[0]


class RawUrlTolerantProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, escaping raw high bytes in request lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_request_line = True

    def data_received(self, data: bytes) -> None:
        if self._in_request_line:
            end = data.find(b"\n")
            line = data if end < 0 else data[:end]
            if _HIGH_BYTE.search(line):
                line = _HIGH_BYTE.sub(_escape, line)
                data = line if end < 0 else line + data[end:]
            # A request line split across reads is escaped piece by piece.
            self._in_request_line = end < 0
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_request_line = True  # the next request on this connection


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
