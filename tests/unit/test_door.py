"""The front door's rules without sockets: paths of partial heads, refusal
answers, connection counting, the body budget, and who may read /metrics."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hongyan.api.door import Door, Refusal, answer
from hongyan.api.framing import body_framing, request_path
from hongyan.api.limits import HttpSettings
from hongyan.core.addresses import networks
from hongyan.core.lockout import lockout_key as client_key
from hongyan.core.metrics_access import may_read_metrics


@pytest.mark.parametrize(
    ("head", "path"),
    [
        (b"GET /mt/?uid=1 HTTP/1.1\r\nHost: a\r\n\r\n", "/mt/"),
        (b"GET /rx?uid=" + b"x" * 1000, "/rx"),  # the request line not even complete
        (b"POST http://example.com/mm/?a=b HTTP/1.1\r\n", "/mm/"),  # absolute-form
        (b"GET /m%74/ HTTP/1.1\r\n", "/mt/"),
        (b"GET", None),
    ],
)
def test_request_path(head: bytes, path: str | None) -> None:
    assert request_path(head) == path


def test_refusal_answers() -> None:
    gbk = "sms&stat=103&message=操作失败".encode("gbk")
    assert answer("/mt/", Refusal.BODY_TOO_LARGE) == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=GBK\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(gbk) + gbk
    )
    assert answer("/rx/", Refusal.HEAD_TIMEOUT).endswith(b"\r\n\r\n103")
    assert answer("/mtutf8/", Refusal.BUSY).endswith("操作失败".encode())
    assert answer("/healthz", Refusal.TOO_MANY_HEADERS).startswith(b"HTTP/1.1 431 ")
    assert answer(None, Refusal.TOO_MANY_CONNECTIONS).startswith(b"HTTP/1.1 503 ")


def test_a_huge_content_length_is_not_an_error() -> None:
    length, chunked = body_framing(
        b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    )
    assert length > 10**15 and not chunked


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_connections_per_client_and_in_all() -> None:
    door = Door(HttpSettings(max_connections=3, max_connections_per_client=2), ["10.0.0.1"])
    a1, a2 = door.enter("192.0.2.1"), door.enter("192.0.2.1")
    assert door.enter("192.0.2.1") is Refusal.TOO_MANY_CONNECTIONS
    proxy = door.enter("10.0.0.1")  # trusted: no per-address count
    assert door.enter("192.0.2.2") is Refusal.TOO_MANY_CONNECTIONS  # three in all
    for key in (a1, a2, proxy):
        assert isinstance(key, str)
        door.leave(key)
    assert door.connections == 0 and door.per_client == {}


def test_a_trusted_proxy_seen_as_ipv4_mapped_is_not_capped_per_address() -> None:
    """On a dual-stack listener (`::`) an IPv4 peer is `::ffff:a.b.c.d`."""
    door = Door(HttpSettings(max_connections_per_client=1), ["10.0.0.1"])
    assert door.enter("::ffff:10.0.0.1") == door.enter("::ffff:10.0.0.1") == ""
    assert door.enter("::ffff:192.0.2.1") == "192.0.2.1"
    assert door.enter("192.0.2.1") is Refusal.TOO_MANY_CONNECTIONS  # the same client


def test_the_body_budget() -> None:
    door = Door(HttpSettings(max_buffered_body_bytes=100 * 1024))
    assert door.reserve(60 * 1024)
    assert not door.reserve(50 * 1024)
    door.release(60 * 1024)
    assert door.reserve(100 * 1024)


@pytest.mark.parametrize(
    ("peer", "client", "forwarded", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1", False, True),
        ("::1", "::1", False, True),
        ("127.0.0.1", "127.0.0.1", True, False),  # an untrusted proxy named someone
        ("127.0.0.1", "203.0.113.7", True, False),  # a customer behind a trusted proxy
        ("127.0.0.1", "10.8.1.1", True, True),  # the operator's network behind it
        ("203.0.113.7", "203.0.113.7", False, False),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", False, True),  # a dual-stack listener
        ("::ffff:203.0.113.7", "::ffff:203.0.113.7", False, False),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True, False),
        ("", "", False, False),
    ],
)
def test_who_may_read_metrics(peer: str, client: str, forwarded: bool, allowed: bool) -> None:
    nets = networks(["127.0.0.0/8", "::1/128", "10.8.0.0/16"])
    assert may_read_metrics(peer, client, forwarded, nets) is allowed


def test_metrics_allow_must_be_networks() -> None:
    with pytest.raises(ValueError, match="metrics_allow"):
        HttpSettings(metrics_allow=("localhost",))


def test_dropping_refused_bytes_is_paced_for_all_connections_together() -> None:
    door = Door(HttpSettings(discard_rate_total=1024 * 1024))
    assert door.discard_delay(128 * 1024, now=100.0) == 0.0  # within the burst
    assert door.discard_delay(1024 * 1024, now=100.0) == pytest.approx(0.875)
    assert door.discard_delay(1024 * 1024, now=100.0) == pytest.approx(1.875)  # another one
    assert door.discard_delay(1024, now=200.0) == 0.0  # idle since: no debt


def test_every_refusal_is_counted_under_its_own_name() -> None:
    assert len({r.label for r in Refusal}) == len(Refusal) == 10


def test_the_soft_open_file_limit_is_raised_and_connections_kept_under_it() -> None:
    """In a child process, started with the common soft limit of 1,024 (item 11)."""
    script = (
        "import resource\n"
        "from hongyan.api.door import Door, raise_open_file_limit\n"
        "from hongyan.api.limits import HttpSettings\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))\n"
        "print(Door(HttpSettings()).max_connections)\n"
        "print(raise_open_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
        "print(Door(HttpSettings()).max_connections)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    before, raised, hard, after = int(out[0]), out[1], int(out[2]), int(out[3])
    assert before == min(1024, hard) - 128
    assert raised == "True"
    assert after == min(10_000, hard - 128)
