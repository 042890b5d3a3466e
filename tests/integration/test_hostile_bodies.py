"""Hostile clients at the front door, part 2: bodies and connections (issue 11).

An 8 MB POST, bodies over their endpoint's limit, a slow body, a client that
leaves mid-body, bodies held at once over the budget, too many connections
from one address or in all, and a large `%XX` body with a wrong password.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import repeat

import httpx
import pytest

from hongyan import metrics
from hongyan.protocol import params as params_module
from tests.conformance.support import FORM, answer, mobiles, raw_request, remain_answer, stored
from tests.conftest import Customer, RunningServer, _server_settings, raw_http
from tests.integration.hostile import (
    connect,
    parse,
    read_response,
    read_until_closed,
    responses,
    send_until_answered,
    wait_for,
)

TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Small timeouts, default sizes."""
    settings = _server_settings(
        tmp_path_factory,
        http={"head_timeout_s": TIMEOUT_S, "body_timeout_s": TIMEOUT_S, "body_min_rate": 1000},
    )
    server = RunningServer(settings)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Few connections and a small body budget; connections may idle for long."""
    settings = _server_settings(
        tmp_path_factory,
        trusted_proxies=["127.0.0.9"],
        http={
            "max_connections_per_client": 3,
            "max_connections": 5,
            "max_buffered_body_bytes": 64 * 1024,
            "idle_timeout_s": 60,
            "body_timeout_s": 60,
        },
    )
    server = RunningServer(settings)
    yield server
    server.stop()


def assert_healthy(server: RunningServer) -> None:
    customer = server.customer(balance=7)
    assert server.get("/mm/", customer.auth()).content == remain_answer(7)


def mm_request(customer: Customer, keep_alive: bool = False) -> bytes:
    request = raw_request("GET", f"/mm/?uid={customer.uid}&pwd={customer.pwd}".encode())
    return (
        request.replace(b"Connection: close", b"Connection: keep-alive") if keep_alive else request
    )


def post(path: bytes, length: int, start: bytes = b"") -> bytes:
    """The head of a form POST declaring `length` bytes, and the first bytes of its body."""
    return (
        b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (path, FORM.encode(), length)
        + start
    )


# -- sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize("connection", ["keep-alive", "close"])  # urllib sends `close`
def test_an_8_mb_post_gets_an_answer_the_client_can_read(
    door: RunningServer, connection: str
) -> None:
    customer = door.customer(balance=5)
    body = f"uid={customer.uid}&pwd={customer.pwd}&mobile=13900008888&content=".encode()
    body += b"x" * (8 * 1024 * 1024)
    headers = {"Content-Type": FORM, "Connection": connection}
    response = httpx.post(f"{door.url}/mt/", content=body, headers=headers)
    assert (response.status_code, response.content) == (200, answer(103))
    assert stored(door, customer) == []
    assert door.get("/mm/", customer.auth()).content == remain_answer(5)
    wait_for(lambda: door.app.door.buffered == 0, "the body budget is whole again")


def test_an_8_mb_post_at_network_speed_gets_an_answer(door: RunningServer) -> None:
    """A client still writing when the server answers (here: 64 KB a millisecond,
    as over a fast network) must be able to finish and read the answer."""
    customer = door.customer(balance=5)
    body = f"uid={customer.uid}&pwd={customer.pwd}&mobile=13900008888&content=".encode()
    body += b"x" * (8 * 1024 * 1024)
    with connect(door.port) as sock:
        sock.sendall(
            post(b"/mt/", len(body)).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        )
        for start in range(0, len(body), 65536):
            sock.sendall(body[start : start + 65536])  # a reset here loses the answer
            time.sleep(0.001)  # the pace of the link, not a wait for the server
        data = read_until_closed(sock)
    assert parse(data)[::2] == (200, answer(103))
    assert stored(door, customer) == []


def test_bodies_are_limited_by_endpoint(door: RunningServer) -> None:
    customer = door.customer(balance=5)
    auth = f"uid={customer.uid}&pwd={customer.pwd}".encode()
    small = auth + b"&x=" + b"y" * 9000  # over the 8 KiB of a read endpoint
    status, _, body = raw_http(
        door.port, raw_request("POST", b"/mm/", small, {"Content-Type": FORM})
    )
    assert (status, body) == (200, answer(103))
    status, _, body = raw_http(
        door.port, raw_request("POST", b"/rx/", small, {"Content-Type": FORM})
    )
    assert (status, body) == (200, b"103")
    status, _, body = raw_http(
        door.port, raw_request("POST", b"/mt/", small, {"Content-Type": FORM})
    )
    assert (status, body) == (200, answer(108))  # within /mt/'s limit: read, and no number


def test_the_biggest_real_send_is_within_the_limit(door: RunningServer) -> None:
    """2000 numbers written `0086…` with full-width commas, 2000 ids of 40 characters,
    500 characters of 4-byte UTF-8, all percent-encoded (the arithmetic of
    HttpSettings.max_send_body_bytes)."""
    customer = door.customer(balance=100_000)
    numbers = mobiles(2000)
    comma = "%EF%BC%8C"
    mobile = comma.join(f"0086{n}" for n in numbers)
    ids = "%2C".join(f"{i:040d}" for i in range(2000))
    content = "".join(f"%{b:02X}" for b in ("😀" * 500).encode("utf-8"))
    body = (
        f"uid={customer.uid}&pwd={customer.pwd}&encode=utf8&mobile={mobile}"
        f"&mobileids={ids}&content={content}"
    ).encode()
    assert len(body) > 135_000
    status, _, answer_ = raw_http(
        door.port, raw_request("POST", b"/mt/", body, {"Content-Type": FORM})
    )
    assert (status, answer_) == (200, answer(100))
    assert len(stored(door, customer)) == 2000


def test_a_chunked_body_over_the_limit_is_refused(door: RunningServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"uid=x&pwd=y&content="
        yield from repeat(b"z" * 4096, 4)  # 16 KiB: over the 8 KiB of /mm/

    response = httpx.post(f"{door.url}/mm/", content=chunks(), headers={"Content-Type": FORM})
    assert response.content == answer(103)


# -- time -------------------------------------------------------------------------------------


def _mt_handled() -> float:
    """/mt/ requests the application has answered so far, whatever their stat."""
    return sum(
        sample.value
        for family in metrics.REQUESTS.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["endpoint"] == "mt"
    )


def test_a_slow_body_is_cut_off_and_never_acted_on(door: RunningServer) -> None:
    customer = door.customer(balance=5)
    start = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=abc".encode()
    handled = _mt_handled()
    with connect(door.port) as sock:
        sock.sendall(post(b"/mt/", len(start) + 1000, start))
        send_until_answered(sock, repeat(b"d", 1000), pause=0.05)
        data = read_until_closed(sock)
    assert parse(data)[::2] == (200, answer(103))
    wait_for(lambda: _mt_handled() > handled, "the application gave up on the body")
    assert stored(door, customer) == []


def test_a_body_sent_fast_then_stopped_is_cut_off(door: RunningServer) -> None:
    """Each byte of a body earned 1/body_min_rate s more, without end: 149 KB
    sent at once, then nothing, held the connection ~150 s (a refused 16 MB
    body: ~4 hours). A body must keep coming: no pause over body_timeout_s."""
    customer = door.customer(balance=5)
    start = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=".encode()
    start += b"a" * (149_000 - len(start))
    handled = _mt_handled()
    with connect(door.port) as sock:
        sock.sendall(post(b"/mt/", 150_000, start))
        data = read_until_closed(sock)
    assert parse(data)[::2] == (200, answer(103))
    wait_for(lambda: _mt_handled() > handled, "the application gave up on the body")
    assert stored(door, customer) == []


def test_a_request_answered_before_its_slow_body_gets_one_answer(door: RunningServer) -> None:
    """An unknown path is answered without reading the body; when the body then
    stopped coming, a second answer (408) followed the first on the wire."""
    with connect(door.port) as sock:
        sock.sendall(post(b"/nothing/", 5000, b"x" * 100))
        data = read_until_closed(sock)
    assert responses(data) == [(404, answer(103))]


def test_a_client_that_leaves_mid_body_sends_nothing(door: RunningServer) -> None:
    customer = door.customer(balance=5)
    start = f"uid={customer.uid}&pwd={customer.pwd}&mobile={mobiles(1)[0]}&content=abc".encode()
    handled = _mt_handled()
    with connect(door.port) as sock:
        sock.sendall(post(b"/mt/", len(start) + 1000, start))
    wait_for(lambda: _mt_handled() > handled, "the application saw the client leave")
    assert stored(door, customer) == []
    assert door.get("/mm/", customer.auth()).content == remain_answer(5)


# -- credentials before decoding ---------------------------------------------------------------


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the values the server percent-decodes from now on."""
    sizes: list[int] = []
    unquote = params_module.unquote_to_bytes

    def spy(data: bytes) -> bytes:
        sizes.append(len(data))
        return unquote(data)

    monkeypatch.setattr(params_module, "unquote_to_bytes", spy)
    return sizes


def test_a_big_percent_encoded_body_with_a_wrong_password_is_not_decoded(
    door: RunningServer, decoded: list[int]
) -> None:
    customer = door.customer(balance=5)
    body = f"uid={customer.uid}&pwd={'0' * 32}&mobile=13900008888&content=".encode()
    body += b"%B7%A2" * 30_000  # 180 KB of %XX, within /mt/'s limit
    status, _, answer_ = raw_http(
        door.port, raw_request("POST", b"/mt/", body, {"Content-Type": FORM})
    )
    assert (status, answer_) == (200, answer(101))
    assert decoded and max(decoded) < 1000, "the content was percent-decoded"


@pytest.mark.parametrize("field", ["uid", "pwd", "encode"])
def test_a_huge_percent_encoded_word_read_before_the_password_is_not_decoded(
    door: RunningServer, decoded: list[int], field: str
) -> None:
    """uid, pwd and encode are read before the password is checked: 190 KB of
    `%XX` in one of them cost ~35 ms of event loop to decode, for a 101."""
    customer = door.customer(balance=5)
    fields = {"uid": customer.uid, "pwd": "0" * 32, "mobile": "13900008888", "content": "x"}
    fields[field] = "%B7%A2" * 31_000  # 186 KB, within /mt/'s limit
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    status, _, answer_ = raw_http(
        door.port, raw_request("POST", b"/mt/", body, {"Content-Type": FORM})
    )
    assert (status, answer_) == (200, answer(101))
    assert decoded and max(decoded) < 1000, f"the {field} was percent-decoded whole"


def test_thousands_of_tiny_fields_are_not_parsed(door: RunningServer) -> None:
    """48,000 `a=b&` fields in a body cost ~50 ms of parsing before the password
    could be checked: more than a few hundred fields is refused at once."""
    customer = door.customer(balance=5)
    body = f"uid={customer.uid}&pwd={customer.pwd}&".encode() + b"a=b&" * 48_000
    status, _, answer_ = raw_http(
        door.port, raw_request("POST", b"/mt/", body, {"Content-Type": FORM})
    )
    assert (status, answer_) == (200, answer(103))
    body = f"uid={customer.uid}&pwd={customer.pwd}&".encode() + b"a=b&" * 100
    status, _, answer_ = raw_http(
        door.port, raw_request("POST", b"/mt/", body, {"Content-Type": FORM})
    )
    assert (status, answer_) == (200, answer(108))


# -- pipelining ---------------------------------------------------------------------------------


def test_a_refusal_after_a_pipelined_request_comes_in_order(door: RunningServer) -> None:
    customer = door.customer(balance=4)
    with connect(door.port) as sock:
        sock.sendall(mm_request(customer, keep_alive=True) + post(b"/mm/", 100_000))
        data = read_until_closed(sock)
    assert responses(data) == [(200, remain_answer(4)), (200, answer(103))]


# -- connections and the body budget -------------------------------------------------------------


def served(server: RunningServer, customer: Customer, source: str) -> object:
    """A kept-alive connection from `source` that got an answer (so the server counts it)."""
    sock = connect(server.port, source)
    sock.sendall(mm_request(customer, keep_alive=True))
    status, _, body = read_response(sock)
    assert (status, body) == (200, remain_answer(1))
    return sock


def refused(server: RunningServer, source: str) -> bool:
    with connect(server.port, source) as sock:
        data = read_until_closed(sock)
    return bool(data) and parse(data)[::2] == (503, answer(103))


def no_connections(server: RunningServer) -> bool:
    return server.app.door.connections == 0


def test_connections_are_capped_per_address_and_in_all(capped: RunningServer) -> None:
    customer = capped.customer(balance=1)
    wait_for(lambda: no_connections(capped), "connections of earlier tests closed")
    first = [served(capped, customer, "127.0.0.1") for _ in range(3)]
    assert refused(capped, "127.0.0.1")
    second = [served(capped, customer, "127.0.0.2") for _ in range(2)]
    assert refused(capped, "127.0.0.3")  # five in all
    first.pop().close()  # type: ignore[attr-defined]
    wait_for(lambda: capped.app.door.connections == 4, "the server saw one leave")
    first.append(served(capped, customer, "127.0.0.1"))
    for sock in first + second:
        sock.close()  # type: ignore[attr-defined]


def test_a_trusted_proxy_is_not_capped_per_address(capped: RunningServer) -> None:
    customer = capped.customer(balance=1)
    wait_for(lambda: no_connections(capped), "connections of earlier tests closed")
    socks = [served(capped, customer, "127.0.0.9") for _ in range(5)]
    assert refused(capped, "127.0.0.9")  # the total still holds
    for sock in socks:
        sock.close()  # type: ignore[attr-defined]


def test_the_rest_of_a_chunked_body_over_the_limit_is_dropped_once_answered(
    capped: RunningServer,
) -> None:
    """The application answers 103 as soon as a chunked body passes its limit.
    The connection then waited for the body's end (16 MB away, or never), its
    bytes going to the parser at full speed (16 MB in ~10 ms, past the pacing
    of dropped bytes). Now the rest is dropped like a refused body's, and the
    server ends its side at once (here, long before the 60 s body timeout)."""
    wait_for(lambda: no_connections(capped), "connections of earlier tests closed")
    refused_before = _refused("body_too_large")
    chunk = b"10000\r\n" + b"z" * 65536 + b"\r\n"
    with connect(capped.port) as sock:
        sock.sendall(
            b"POST /mm/ HTTP/1.1\r\nHost: a\r\nContent-Type: %s\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % FORM.encode()
        )
        send_until_answered(sock, repeat(chunk, 16), pause=0.001)
        data = read_until_closed(sock)
    assert responses(data) == [(200, answer(103))]
    assert _refused("body_too_large") > refused_before
    wait_for(lambda: no_connections(capped), "the server closed its side")


@pytest.mark.parametrize("first", [False, True])
def test_a_chunked_body_over_the_limit_in_one_write_is_answered(
    door: RunningServer, first: bool
) -> None:
    """Head and body in one read: the request is answered 103 (after another
    request, or as the first on its connection)."""
    customer = door.customer(balance=4)
    body = b"uid=x&pwd=y&content=" + b"z" * 16_000
    chunked = (
        b"POST /mm/ HTTP/1.1\r\nHost: a\r\nContent-Type: %s\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (FORM.encode(), len(body), body)
    )
    before = [] if first else [(200, remain_answer(4))]
    with connect(door.port) as sock:
        sock.sendall((b"" if first else mm_request(customer, keep_alive=True)) + chunked)
        data = read_until_closed(sock)
    assert responses(data) == [*before, (200, answer(103))]


def _refused(reason: str) -> float:
    return metrics.HTTP_REFUSED.labels(reason)._value.get()


def test_bodies_held_at_once_are_bounded(capped: RunningServer) -> None:
    customer = capped.customer(balance=1)
    wait_for(lambda: no_connections(capped), "connections of earlier tests closed")
    auth = f"uid={customer.uid}&pwd={customer.pwd}".encode()
    with connect(capped.port) as slow:
        slow.sendall(post(b"/mt/", 60_000, auth + b"&content="))  # holds 60,000 of 65,536
        wait_for(lambda: capped.app.door.buffered >= 60_000, "the slow body is counted")
        status, _, body = raw_http(
            capped.port,
            raw_request("POST", b"/mm/", auth + b"&x=" + b"y" * 6000, {"Content-Type": FORM}),
        )
        assert (status, body) == (200, answer(103))
        slow.sendall(b"c" * (60_000 - len(auth) - len(b"&content=")))
        assert read_response(slow)[2] == answer(108)  # read whole: no number
    status, _, body = raw_http(
        capped.port,
        raw_request("POST", b"/mm/", auth + b"&x=" + b"y" * 6000, {"Content-Type": FORM}),
    )
    assert (status, body) == (200, remain_answer(1))
