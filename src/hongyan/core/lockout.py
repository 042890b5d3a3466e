"""Which client a failed login counts against (PROTOCOL.md gate 3).

Five failures for one uid from one client lock that uid for that client. A
client is its IPv4 address; an IPv6 client is its /64, since one host holds a
whole /64 and picks a new address in it at will (RFC 4941 temporary
addresses, RFC 8981), so counting single IPv6 addresses would let it guess
without end. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2)
is that IPv4 client. Every sign-in entry point (API now, web console later)
keys its lockout with `lockout_key`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hongyan.core.addresses import address as judged

IPV6_CLIENT_PREFIX = 64
# auth_failures.address is this wide; every key below fits
# ("ffff:ffff:ffff:ffff::/64" is 24 characters).
KEY_MAX_LENGTH = 64


def lockout_key(address: str) -> str:
    """The client `address` counts as, for failed logins and open connections
    (api/door.py): the IPv4 address, or the IPv6 /64 as `2001:db8:1:2::/64`.
    Text that is no address is kept as it is (cut to the key's width):
    failures from it still count, against that text."""
    parsed = judged(address)
    if parsed is None:
        return address[:KEY_MAX_LENGTH]
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    # Built from the integer, so a zone id (`fe80::1%eth0`) does not matter.
    low_bits = 128 - IPV6_CLIENT_PREFIX
    network = ipaddress.IPv6Network((int(parsed) >> low_bits << low_bits, IPV6_CLIENT_PREFIX))
    return str(network)


def operator_lockout_key(text: str) -> str | None:
    """The key an operator names: an address, or an IPv6 /64 as `account show`
    lists it (`2001:db8:1:2::/64`); None when it is neither."""
    text = text.strip()
    if "/" not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return None
        return lockout_key(text)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv4Network):
        return str(network.network_address) if network.prefixlen == 32 else None
    if network.prefixlen < IPV6_CLIENT_PREFIX:
        return None
    return lockout_key(str(network.network_address))


@dataclass(frozen=True, slots=True)
class FailureCount:
    """What is kept of one uid's failed logins from one client."""

    failures: int = 0
    window_start: int = 0
    locked_until: int = 0  # epoch ms; 0: not locked


def count_failure(
    kept: FailureCount | None, at: int, *, limit: int, window_ms: int, lock_ms: int
) -> FailureCount:
    """One more failed login at `at`: a count starts again once its window is
    over, `limit` failures in a window lock the pair for `lock_ms`, and a lock
    already set runs to its end."""
    if kept is None or at - kept.window_start > window_ms:
        failures, window_start = 1, at
    else:
        failures, window_start = kept.failures + 1, kept.window_start
    locked_until = at + lock_ms if failures >= limit else 0
    if kept is not None and kept.locked_until > at:
        locked_until = kept.locked_until
    return FailureCount(failures, window_start, locked_until)
