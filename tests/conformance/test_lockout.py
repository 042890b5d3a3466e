"""Lockout per client (PROTOCOL.md gate 3, issue 11 item 8), through real HTTP.

IPv6 clients are counted per /64, IPv4-mapped IPv6 as its IPv4, and an
operator lifts a lock at once. The clients' addresses come by X-Forwarded-For
from the test client, which this server trusts as its proxy (gate 5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.support import answer, call, mobiles, remain_answer
from tests.conftest import Customer, RunningServer, _server_settings


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(_server_settings(tmp_path_factory, trusted_proxies=["127.0.0.1"]))
    yield running
    running.stop()


def _from(server: RunningServer, client: str, auth: dict[str, str]) -> httpx.Response:
    return call(server, "/mm/", auth, headers={"X-Forwarded-For": client})


def _mt_from(server: RunningServer, client: str, auth: dict[str, str]) -> httpx.Response:
    params = {**auth, "mobile": mobiles(1)[0], "content": "x"}
    return call(server, "/mt/", params, headers={"X-Forwarded-For": client})


def _wrong(customer: Customer) -> dict[str, str]:
    return {"uid": customer.uid, "pwd": hashlib.md5(b"wrong").hexdigest()}


def _fail_from(server: RunningServer, customer: Customer, clients: list[str]) -> None:
    for client in clients:
        assert _from(server, client, _wrong(customer)).content == answer(101), client


def test_an_ipv6_client_is_counted_per_64(proxied: RunningServer) -> None:
    customer = proxied.customer()
    # Five failures, each from another address of one /64, as a host rotating
    # its temporary addresses would send them; four do not lock yet.
    _fail_from(proxied, customer, [f"2001:db8:77:1:{i}::{i}" for i in range(1, 5)])
    assert _from(proxied, "2001:db8:77:1::99", customer.auth()).content == remain_answer(1000)
    _fail_from(proxied, customer, ["2001:db8:77:1:5::5"])
    for client in ("2001:db8:77:1::abcd", "2001:db8:77:1:ffff:ffff:ffff:ffff"):
        assert _from(proxied, client, customer.auth()).content == answer(114)
        assert _mt_from(proxied, client, customer.auth()).content == answer(114)
    # Another /64, and the IPv4 peer itself, are other clients.
    assert _from(proxied, "2001:db8:77:2::1", customer.auth()).content == remain_answer(1000)
    assert call(proxied, "/mm/", customer.auth()).content == remain_answer(1000)


def test_an_ipv4_mapped_client_is_its_ipv4_address(proxied: RunningServer) -> None:
    customer = proxied.customer()
    _fail_from(proxied, customer, ["::ffff:198.51.100.7"] * 3 + ["198.51.100.7"] * 2)
    assert _from(proxied, "198.51.100.7", customer.auth()).content == answer(114)
    assert _from(proxied, "::ffff:c633:6407", customer.auth()).content == answer(114)
    assert _from(proxied, "198.51.100.8", customer.auth()).content == remain_answer(1000)


def test_the_operator_sees_and_lifts_locks_at_once(proxied: RunningServer) -> None:
    customer = proxied.customer()
    _fail_from(proxied, customer, [f"2001:db8:79:1::{i}" for i in range(1, 6)])
    _fail_from(proxied, customer, ["203.0.113.9"] * 5)
    listed = proxied.operate(lambda op: op.access.locks(customer.uid))
    assert sorted(lock.client for lock in listed) == ["2001:db8:79:1::/64", "203.0.113.9"]

    # By any address of the /64 (or the /64 itself, as listed).
    lifted = proxied.operate(lambda op: op.access.unlock(customer.uid, "2001:db8:79:1::42"))
    assert [lock.client for lock in lifted] == ["2001:db8:79:1::/64"]
    assert _from(proxied, "2001:db8:79:1::1", customer.auth()).content == remain_answer(1000)
    assert _from(proxied, "203.0.113.9", customer.auth()).content == answer(114)

    proxied.operate(lambda op: op.access.unlock(customer.uid))
    assert _from(proxied, "203.0.113.9", customer.auth()).content == remain_answer(1000)
    assert proxied.operate(lambda op: op.access.locks(customer.uid)) == []
