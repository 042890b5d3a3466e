"""Requests as TCP delivers them: split across reads, several on one kept-alive
connection, pipelined, or after the stray CRLF some clients send after a body.

Raw GBK/UTF-8 bytes in the URL must work in every one of these ways
(PROTOCOL.md "Transport"); RFC 9112 §2.2 asks a server to ignore an empty line
before a request line.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace

from hypothesis import given, note
from hypothesis import strategies as st

from tests.conftest import RunningServer
from tests.property.conftest import Pool
from tests.property.wire import ENDPOINTS, RawRequest, fuzz_settings, read_answer, url_safe

Response = tuple[int, dict[str, str], bytes]


def _credentials(pool: Pool) -> dict[str, tuple[str, str]]:
    return {key: (c.uid, c.pwd) for key, c in pool.customers.items()}


def converse(port: int, pieces: list[bytes], answers: int, pause: float = 0.005) -> list[Response]:
    """Send `pieces` one write each, a pause apart; read up to `answers` responses."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(pause)
            sock.sendall(piece)
        return _read(sock, answers)


def _read(sock: socket.socket, answers: int) -> list[Response]:
    out: list[Response] = []
    buffer = b""
    while len(out) < answers:
        head, sep, rest = buffer.partition(b"\r\n\r\n")
        if sep:
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0") or 0)
            if len(rest) >= length:
                out.append((int(lines[0].split(" ", 2)[1]), headers, rest[:length]))
                buffer = rest[length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
    return out


@st.composite
def simple_requests(draw: st.DrawFn, pool: dict[str, tuple[str, str]]) -> tuple[str, RawRequest]:
    """A valid-looking request to a known endpoint whose query may carry raw high bytes."""
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    uid, pwd = pool[draw(st.sampled_from(["rich", "limited"]))]
    value = draw(st.one_of(st.text(max_size=4).map(str.encode), st.binary(max_size=6)))
    raw = draw(st.booleans())
    escaped = url_safe(value)
    if raw:  # the high bytes themselves, as sloppy clients send them
        escaped = re.sub(rb"%([89A-F][0-9A-F])", lambda m: bytes([int(m.group(1), 16)]), escaped)
    target = b"%s?uid=%s&pwd=%s&x=%s" % (path.encode(), uid.encode(), pwd.encode(), escaped)
    method = draw(st.sampled_from([b"GET", b"POST"]))
    body = b""
    headers: list[tuple[bytes, bytes]] = []
    if method == b"POST" and draw(st.booleans()):
        body = b"content=" + url_safe(value)
        headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    return ENDPOINTS[path], RawRequest(method, target, body, headers)


@fuzz_settings(40)
@given(data=st.data())
def test_a_request_split_across_reads(server: RunningServer, pool: Pool, data) -> None:
    endpoint, request = data.draw(simple_requests(_credentials(pool)), label="request")
    raw = request.encode()
    cuts = data.draw(
        st.lists(st.integers(1, len(raw) - 1), max_size=4, unique=True).map(sorted), label="cuts"
    )
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    note(repr(pieces))
    (answer,) = converse(server.port, pieces, 1) or [(0, {}, b"connection closed")]
    read_answer(endpoint, *answer)


@fuzz_settings(40)
@given(data=st.data())
def test_requests_on_one_kept_alive_connection(server: RunningServer, pool: Pool, data) -> None:
    cases = data.draw(
        st.lists(simple_requests(_credentials(pool)), min_size=2, max_size=3), label="requests"
    )
    way = data.draw(st.sampled_from(["one by one", "pipelined", "CRLF after each"]), label="way")
    raws = [
        replace(request, close=i == len(cases) - 1).encode()
        for i, (_endpoint, request) in enumerate(cases)
    ]
    if way == "CRLF after each":
        raws = [raw + b"\r\n" for raw in raws[:-1]] + raws[-1:]
    note(repr(raws))
    if way == "pipelined":
        answers = converse(server.port, [b"".join(raws)], len(raws))
    else:
        answers = []
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for raw in raws:
                sock.sendall(raw)
                answers += _read(sock, 1)
    for i, (endpoint, _request) in enumerate(cases):
        assert i < len(answers), f"no answer to request {i + 1} ({way}): {answers[-1:]}"
        read_answer(endpoint, *answers[i])


def test_an_empty_line_before_a_request_line_with_raw_gbk(
    server: RunningServer, pool: Pool
) -> None:
    """The minimal case: CRLF, then a request whose URL carries raw GBK."""
    rich = pool["rich"]
    target = b"/mm/?uid=%s&pwd=%s&x=%s" % (rich.uid.encode(), rich.pwd.encode(), "测".encode("gbk"))
    (answer,) = converse(server.port, [b"\r\n" + RawRequest(b"GET", target).encode()], 1)
    assert read_answer("mm", *answer).kind == "remain"
