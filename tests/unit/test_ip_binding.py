"""IP binding without a server: the recent API clients the gates remember,
the one rule of what a binding admits, and the warning a change gives."""

from __future__ import annotations

import pytest

from hongyan.core.addresses import admits, networks
from hongyan.core.bindings import BindingRefused, check_bind, parse_network, refused_after
from hongyan.core.recent_clients import RecentClient, RecentClients


def test_recent_clients_are_the_latest_first_with_their_last_time() -> None:
    recent = RecentClients()
    recent.saw(1, "203.0.113.7", 1_000)
    recent.saw(1, "198.51.100.2", 2_000)
    recent.saw(1, "203.0.113.7", 3_000)
    recent.saw(2, "192.0.2.1", 2_500)
    assert recent.of(1) == [
        RecentClient("203.0.113.7", 3_000),
        RecentClient("198.51.100.2", 2_000),
    ]
    assert recent.of(2) == [RecentClient("192.0.2.1", 2_500)]
    assert recent.of(3) == []


def test_recent_clients_leave_out_those_not_seen_since() -> None:
    recent = RecentClients()
    recent.saw(1, "203.0.113.7", 1_000)
    recent.saw(1, "198.51.100.2", 5_000)
    assert recent.of(1, since=4_000) == [RecentClient("198.51.100.2", 5_000)]


def test_an_account_keeps_only_its_newest_addresses() -> None:
    recent = RecentClients(per_account=3)
    for n in range(10):
        recent.saw(1, f"192.0.2.{n}", n)
    assert [c.address for c in recent.of(1)] == ["192.0.2.9", "192.0.2.8", "192.0.2.7"]


def test_the_accounts_that_called_last_are_kept() -> None:
    recent = RecentClients(accounts=2)
    recent.saw(1, "192.0.2.1", 1)
    recent.saw(2, "192.0.2.2", 2)
    recent.saw(1, "192.0.2.1", 3)  # account 1 called again: account 2 is the oldest now
    recent.saw(3, "192.0.2.3", 4)
    assert len(recent) == 2
    assert recent.of(2) == []
    assert recent.of(1) and recent.of(3)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
    ],
)
def test_addresses_and_ranges_are_bound_as_stored(text: str, stored: str) -> None:
    assert parse_network(text) == stored


@pytest.mark.parametrize("text", ["", "localhost", "203.0.113.300", "203.0.113.0/33", "1.2.3"])
def test_what_is_not_an_address_is_refused_as_invalid(text: str) -> None:
    with pytest.raises(BindingRefused) as refused:
        parse_network(text)
    assert refused.value.reason == "invalid"


def test_a_binding_is_refused_twice_and_past_the_most() -> None:
    with pytest.raises(BindingRefused) as refused:
        check_bind(["203.0.113.7/32"], "203.0.113.7/32", "u", 10)
    assert refused.value.reason == "duplicate"
    full = [f"192.0.2.{n}/32" for n in range(10)]
    with pytest.raises(BindingRefused) as refused:
        check_bind(full, "203.0.113.7/32", "u", 10)
    assert refused.value.reason == "full"
    check_bind(full[:9], "203.0.113.7/32", "u", 10)


def test_no_binding_admits_anyone_and_a_binding_only_its_addresses() -> None:
    assert admits((), "198.51.100.9")
    bound = networks(["203.0.113.0/24", "2001:db8::/32"])
    assert admits(bound, "203.0.113.200")
    assert admits(bound, "::ffff:203.0.113.5")  # a dual-stack listener's form of IPv4
    assert admits(bound, "2001:db8::77")
    assert not admits(bound, "198.51.100.9")
    assert not admits(bound, "not an address")


CALLERS = [RecentClient("127.0.0.1", 5), RecentClient("203.0.113.9", 4)]


def test_the_first_binding_warns_of_every_caller_outside_it() -> None:
    refused = refused_after([], ["203.0.113.0/24"], CALLERS)
    assert refused == [RecentClient("127.0.0.1", 5)]


def test_a_further_binding_refuses_no_one() -> None:
    assert refused_after(["203.0.113.0/24"], ["203.0.113.0/24", "192.0.2.1/32"], CALLERS) == []


def test_removing_a_binding_warns_of_its_callers_unless_it_was_the_last() -> None:
    bound = ["127.0.0.1/32", "203.0.113.0/24"]
    assert refused_after(bound, ["203.0.113.0/24"], CALLERS) == [RecentClient("127.0.0.1", 5)]
    assert refused_after(["127.0.0.1/32"], [], CALLERS) == []
