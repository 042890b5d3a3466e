"""Hostile clients at the front door, part 3: chunked bodies (issue 11).

A chunked body used to be handed to the parser with everything after it in
the same read, so the requests behind it escaped the bounds every head is
held to, and a request finishing before it switched its framing off. Now the
server finds the end of a chunked body itself (api/framing.ChunkedReader) and
frames what follows like any head.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.support import FORM, answer, raw_request, remain_answer
from tests.conftest import Customer, RunningServer, _server_settings
from tests.integration.hostile import (
    WAIT,
    connect,
    read_until_closed,
    responses,
    server_spoke,
    wait_for,
)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(_server_settings(tmp_path_factory))
    yield server
    server.stop()


def chunked_post(path: bytes, body: bytes, pieces: int = 1, close: bool = False) -> bytes:
    size = -(-len(body) // pieces) or 1
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    return (
        b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Type: %s\r\n" % (path, FORM.encode())
        + (b"Connection: close\r\n" if close else b"")
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )


def mm(customer: Customer, close: bool = False) -> bytes:
    request = raw_request("GET", f"/mm/?uid={customer.uid}&pwd={customer.pwd}".encode())
    return request if close else request.replace(b"Connection: close", b"Connection: keep-alive")


def auth_body(customer: Customer) -> bytes:
    return f"uid={customer.uid}&pwd={customer.pwd}".encode()


def test_requests_after_a_chunked_body_are_held_to_the_pipelining_bound(
    door: RunningServer,
) -> None:
    """Behind a chunked body in one write, 1,000 requests all went to the parser
    at once (2,661 waiting against a bound of 16)."""
    count = 1000
    tiny = b"GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
    waiting: list[int] = []
    data = bytearray()
    with connect(door.port) as sock:
        sock.sendall(chunked_post(b"/nothing", b"a") + tiny * count)

        def answered_all() -> bool:
            connections = door._server.server_state.connections
            waiting.append(max((len(c.pipeline) for c in list(connections)), default=0))
            if server_spoke(sock, 0.005):
                data.extend(sock.recv(1 << 20))
            return data.count(b"HTTP/1.1 404 ") == count + 1

        wait_for(answered_all, "every request answered")
    assert max(waiting) <= door.settings.http.max_pipelined_requests


def test_raw_gbk_in_a_url_after_a_chunked_body_is_read_like_any_url(door: RunningServer) -> None:
    """The head after a chunked body goes through the framing that escapes raw
    bytes in request lines, so the request is answered, not refused as bad."""
    customer = door.customer(balance=3)
    raw_url = b"/mm/?uid=%s&pwd=%s&note=\xb7\xa2" % (customer.uid.encode(), customer.pwd.encode())
    follow = b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % raw_url
    with connect(door.port) as sock:
        sock.sendall(chunked_post(b"/mm/", auth_body(customer), pieces=3) + follow)
        data = read_until_closed(sock)
    assert responses(data) == [(200, remain_answer(3)), (200, remain_answer(3))]


def test_a_chunked_request_after_an_answered_one_keeps_its_body(door: RunningServer) -> None:
    """A GET and the start of a chunked POST in one read, the rest of the POST
    later: the GET's end switched the POST's framing off, so the rest was read
    as a request head (and refused as one over 16 KiB)."""
    customer = door.customer(balance=5)
    body = auth_body(customer) + b"&x=" + b"y" * 40_000  # no number, no content: 108
    post = chunked_post(b"/mt/", body, 10, close=True)
    half = len(post) // 4
    with connect(door.port) as sock:
        sock.sendall(mm(customer) + post[:half])
        assert server_spoke(sock, 60.0), "the GET is answered"
        sock.sendall(post[half:])
        data = read_until_closed(sock)
    assert responses(data) == [(200, remain_answer(5)), (200, answer(108))]


class Held:
    """The platform's ASGI app behind one that holds `GET /held` until released,
    so a test knows an earlier request is still running when the next arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.running = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/held":
            await self.app(scope, receive, send)
            return
        self.running.set()
        await asyncio.to_thread(self.release.wait, WAIT)
        await send({"type": "http.response.start", "status": 200, "headers": HELD_HEADERS})
        await send({"type": "http.response.body", "body": b"held"})


HELD_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"4")]


@pytest.fixture
def held(door: RunningServer) -> Iterator[Held]:
    config = door._server.config
    app = config.loaded_app
    holding = Held(app)
    config.loaded_app = holding  # what connections opened from now on call
    yield holding
    holding.release.set()
    config.loaded_app = app


def test_a_chunked_request_over_its_limit_behind_another_is_answered(
    door: RunningServer, held: Held
) -> None:
    """A chunked body over its limit, and not ended, read while an earlier
    request was running: the earlier answer dropped it unanswered."""
    customer = door.customer(balance=6)
    over = chunked_post(b"/mm/", auth_body(customer) + b"&x=" + b"y" * 16_384, 4)

    def over_read() -> bool:
        connections = list(door._server.server_state.connections)
        return any(c._chunked > c._chunked_limit for c in connections)

    with connect(door.port) as sock:
        sock.sendall(b"GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        wait_for(held.running.is_set, "the first request running")
        sock.sendall(over[: -len(b"0\r\n\r\n")])  # the body goes on
        wait_for(over_read, "the chunked body read past its limit")
        held.release.set()
        data = read_until_closed(sock)
    assert responses(data) == [(200, b"held"), (200, answer(103))]


def test_a_chunked_head_the_parser_refuses_is_answered(
    door: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunked head with a header the parser refuses, and more than a body's
    limit after it in one write: the answer went out, then the server failed on
    the rest (AttributeError, logged by asyncio) and aborted the connection."""
    head = b"POST /mm/ HTTP/1.1\r\nHost: a\r\nBad Header: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    with caplog.at_level(logging.ERROR, logger="asyncio"), connect(door.port) as sock:
        sock.sendall(head + b"2100\r\n" + b"z" * 0x2100 + b"\r\n")
        data = read_until_closed(sock)
    assert responses(data) == [(200, answer(103))]
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


@pytest.mark.parametrize("body", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhello-and-more\r\n0\r\n\r\n"])
def test_a_body_that_is_not_chunked_as_it_says_is_answered_and_closed(
    door: RunningServer, body: bytes
) -> None:
    customer = door.customer(balance=2)
    head = chunked_post(b"/mm/", b"", close=True).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    with connect(door.port) as sock:
        sock.sendall(head + body + mm(customer))
        data = read_until_closed(sock)
    assert responses(data) == [(200, answer(103))]
    assert door.get("/mm/", customer.auth()).content == remain_answer(2)
    wait_for(lambda: door.app.door.buffered == 0, "the refused body released")
