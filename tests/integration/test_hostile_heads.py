"""Hostile clients at the front door, part 1: request heads and time (issue 11).

Endless header lines, a 20 MB head, a 64 KB URL, a slowloris head, idle
connections: each is refused (in the protocol's own form when the path is a
protocol endpoint), and the server answers normal requests afterwards. The
server's timeouts are made small here so the tests are quick; no test
asserts on time.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from itertools import repeat

import pytest

from tests.conformance.support import answer, raw_request, remain_answer
from tests.conftest import RunningServer, _server_settings, raw_http
from tests.integration.hostile import (
    WAIT,
    connect,
    parse,
    read_until_closed,
    responses,
    send_until_answered,
    server_spoke,
    wait_for,
)

TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = _server_settings(
        tmp_path_factory,
        http={
            "head_timeout_s": TIMEOUT_S,
            "idle_timeout_s": TIMEOUT_S,
            "body_timeout_s": TIMEOUT_S,
            "body_min_rate": 1000,
        },
    )
    server = RunningServer(settings)
    yield server
    server.stop()


def assert_healthy(server: RunningServer) -> None:
    """A normal request is answered, and once idle connections time out the
    server holds nothing of the hostile one (counted connections, body bytes)."""
    customer = server.customer(balance=7)
    assert server.get("/mm/", customer.auth()).content == remain_answer(7)
    door = server.app.door
    wait_for(lambda: door.connections == 0 and door.buffered == 0, "every connection released")


# -- size of a head -------------------------------------------------------------------


def test_endless_header_lines_are_refused_with_the_protocol_answer(door: RunningServer) -> None:
    with connect(door.port) as sock:
        sock.sendall(b"GET /mt/?uid=x HTTP/1.1\r\nHost: a\r\n")
        lines = (
            b"".join(b"X-Line-%d: v\r\n" % (i * 50 + j) for j in range(50)) for i in range(20_000)
        )
        sent = send_until_answered(sock, lines, pause=0.001)
        data = read_until_closed(sock)
    assert sent < 1024 * 1024, "the server kept reading header lines"
    status, headers, body = parse(data)
    assert (status, body) == (200, answer(103))
    assert headers["connection"] == "close"
    assert_healthy(door)


@pytest.mark.parametrize(
    "headers",
    [
        b"".join(b"X-%d: v\r\n" % i for i in range(101)),
        b"a:\n" * 101,  # the shortest lines there are: 303 bytes
    ],
)
def test_too_many_headers_on_another_path_get_431(door: RunningServer, headers: bytes) -> None:
    end = b"\r\n" if headers.endswith(b"\r\n") else b"\n"
    status, _, body = raw_http(door.port, b"GET /healthz HTTP/1.1\r\n" + headers + end)
    assert (status, body) == (431, answer(103))
    assert_healthy(door)


def test_a_20_mb_head_is_cut_short(door: RunningServer) -> None:
    with connect(door.port) as sock:
        sock.sendall(b"GET /mm/?uid=x HTTP/1.1\r\nX-Big: ")
        sent = send_until_answered(sock, repeat(b"a" * 65536, 320), pause=0.001)
        data = read_until_closed(sock)
    assert sent < 20 * 1024 * 1024, "the server read the whole 20 MB head"
    assert parse(data)[::2] == (200, answer(103))
    assert_healthy(door)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/mt/", answer(103)),
        ("/mtutf8", answer(103, "utf-8")),
        ("/rx/", b"103"),  # /rx/ answers errors with the bare code (spec §6.1)
    ],
)
def test_a_64_kb_url_gets_the_protocol_answer(
    door: RunningServer, path: str, expected: bytes
) -> None:
    target = path.encode() + b"?uid=x&pwd=y&mobile=13900008888&content=" + b"%B7%A2" * 11_000
    status, headers, body = raw_http(door.port, raw_request("GET", target))
    assert (status, body) == (200, expected)
    assert headers["content-length"] == str(len(expected))
    assert headers["content-type"].lower().startswith("text/plain; charset=")
    assert_healthy(door)


def test_a_url_under_64_kb_is_still_read(door: RunningServer) -> None:
    """A GET of 2001 numbers (~28 KB) was always read and answered 106: it still is."""
    customer = door.customer(balance=5)
    numbers = "%2C".join(f"139{i:08d}" for i in range(2001))
    target = f"/mt/?uid={customer.uid}&pwd={customer.pwd}&mobile={numbers}&content=x"
    status, _, body = raw_http(door.port, raw_request("GET", target.encode()))
    assert (status, body) == (200, answer(106))


def test_a_request_the_parser_refuses_gets_the_protocol_answer(door: RunningServer) -> None:
    request = b"POST /mt/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy"
    status, _, body = raw_http(door.port, request)
    assert (status, body) == (200, answer(103))


def test_the_longest_real_get_still_fits_in_a_head(door: RunningServer) -> None:
    """GET /mt/ with 50 numbers, 50 ids of 40 characters and 500 characters, all
    percent-encoded UTF-8: the biggest head of this protocol (PROTOCOL.md "/mt/")."""
    customer = door.customer(balance=1000)
    numbers = ",".join(f"139{i:08d}" for i in range(50))
    ids = ",".join(f"{i:040d}" for i in range(50))
    content = "".join(f"%{b:02X}" for b in ("验" * 500).encode("utf-8"))
    target = (
        f"/mt/?uid={customer.uid}&pwd={customer.pwd}&encode=utf8&mobile={numbers}"
        f"&mobileids={ids}&content={content}"
    ).encode()
    assert len(target) > 7000
    status, _, body = raw_http(door.port, raw_request("GET", target))
    assert (status, body) == (200, answer(100))


# -- time ------------------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed(door: RunningServer) -> None:
    with connect(door.port) as sock:
        assert read_until_closed(sock) == b""


def test_an_idle_kept_alive_connection_is_closed(door: RunningServer) -> None:
    customer = door.customer(balance=3)
    request = raw_request("GET", f"/mm/?uid={customer.uid}&pwd={customer.pwd}".encode())
    with connect(door.port) as sock:
        sock.sendall(request.replace(b"Connection: close", b"Connection: keep-alive"))
        data = read_until_closed(sock)
    assert responses(data) == [(200, remain_answer(3))]


def test_a_slowloris_head_is_answered_and_closed(door: RunningServer) -> None:
    with connect(door.port) as sock:
        sock.sendall(b"GET /mm/?uid=x HTTP/1.1\r\nHost: a\r\n")
        lines = (b"X-Slow-%d: v\r\n" % i for i in range(10_000))
        send_until_answered(sock, lines, pause=0.05)
        data = read_until_closed(sock)
    assert parse(data)[::2] == (200, answer(103))
    assert_healthy(door)


def test_blank_lines_alone_do_not_keep_a_connection(door: RunningServer) -> None:
    with connect(door.port) as sock:
        send_until_answered(sock, repeat(b"\r\n", 100_000), pause=0.02)
        assert read_until_closed(sock) == b""


# -- pipelining --------------------------------------------------------------------------


def test_requests_pipelined_at_once_are_bounded(door: RunningServer) -> None:
    """1,000 tiny requests in one write were all parsed at once, each a request
    object waiting its turn (8 MB of them: ~250,000 waiting, 700 MB). The server
    parses a few ahead and reads on as it answers; every one is answered."""
    request = b"GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
    count = 1000
    waiting: list[int] = []
    data = bytearray()
    with connect(door.port) as sock:
        sock.sendall(request * count)

        def answered_all() -> bool:
            connections = door._server.server_state.connections
            waiting.append(max((len(c.pipeline) for c in list(connections)), default=0))
            if server_spoke(sock, 0.005):
                data.extend(sock.recv(1 << 20))
            return data.count(b"HTTP/1.1 404 ") == count

        wait_for(answered_all, "every pipelined request answered")
    assert 0 < max(waiting) <= door.settings.http.max_pipelined_requests
    assert_healthy(door)


def test_a_client_that_never_reads_its_answers_is_cut_off(door: RunningServer) -> None:
    """Requests sent, answers never read: once the server's write buffer is full
    the application waits to write, with no deadline, and the connection was
    held for ever. The client must take some of its answers every body_timeout_s."""
    wait_for(lambda: door.app.door.connections == 0, "connections of earlier tests closed")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(WAIT)
        sock.connect(("127.0.0.1", door.port))
        # Answers of several MB (/metrics is served to loopback), requests of 18 KB.
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n" * 500)
        wait_for(lambda: door.app.door.connections == 0, "the server cut the client off")
    assert_healthy(door)
