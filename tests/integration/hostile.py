"""Hostile HTTP clients over real sockets, for the tests of the front door (issue 11).

Nothing here sleeps to wait for the server: a client waits for the server's
answer or its close with a generous bound, and fails when the bound passes.
A slow client paces itself by waiting for the server to speak (`select` with a
short timeout), so it stops the moment the server answers.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.waiting import WAIT_S

# How long a test waits for the server to do something it must do: the
# project's generous bound (tests/waiting.py), though the server's own
# timeouts in these tests are a fraction of a second.
WAIT = WAIT_S


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection from a chosen loopback address (any of 127.0.0.0/8 works on Linux)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((source, 0))
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    return sock


def server_spoke(sock: socket.socket, within: float = 0.0) -> bool:
    """The server sent something (or closed) on `sock`, waiting at most `within` seconds."""
    readable, _, _ = select.select([sock], [], [], within)
    return bool(readable)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it does not close within WAIT."""
    data = b""
    deadline = time.monotonic() + WAIT
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"the server did not close the connection within {WAIT} s: {data[:200]!r}")
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole response on a connection kept open; fails if none comes within WAIT."""
    data = b""
    sock.settimeout(WAIT)
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = int(parse_headers(head).get("content-length", "0"))
            if len(rest) >= length:
                return parse(data)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"no whole answer within {WAIT} s: {data[:200]!r}")
        if not chunk:
            pytest.fail(f"the server closed before a whole answer: {data[:200]!r}")
        data += chunk


def send_until_answered(sock: socket.socket, pieces: Iterable[bytes], pause: float = 0.0) -> int:
    """Send `pieces` one by one until the server answers or closes, at most WAIT
    seconds; the bytes sent.

    With `pause`, wait that long for the server after each piece: a slow client
    that stops as soon as the server has spoken."""
    sent = 0
    deadline = time.monotonic() + WAIT
    for piece in pieces:
        if server_spoke(sock, pause) or time.monotonic() > deadline:
            return sent
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return sent
        sent += len(piece)
    return sent


def parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the first response in `data`."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response: {data[:200]!r}"
    headers = parse_headers(head)
    length = int(headers["content-length"])
    return int(head.split(b" ", 2)[1]), headers, rest[:length]


def parse_headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}


def responses(data: bytes) -> list[tuple[int, bytes]]:
    """(status, body) of every response in `data`, in order."""
    out = []
    while data:
        status, headers, body = parse(data)
        out.append((status, body))
        data = data.partition(b"\r\n\r\n")[2][int(headers["content-length"]) :]
    return out


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    """predicate()'s first true value, asked again until WAIT passes."""
    deadline = time.monotonic() + WAIT
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT} s: {what}")
        time.sleep(0.02)
