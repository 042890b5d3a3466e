"""How a client's address is read: one rule for the gates (binding, trusted
proxies), the front door's connection counts and who may read /metrics.

An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2, what a
dual-stack listener reports for every IPv4 peer) is that IPv4 address, so
a range written as IPv4 matches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from hongyan.core.models import IPNetwork


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `text` names, as it is judged; None if it names none."""
    try:
        parsed = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return parsed.ipv4_mapped
    return parsed


def networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Address ranges as settings write them (`10.0.0.0/8`, `::1`, `192.0.2.7`)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def check_networks(values: tuple[str, ...], setting: str) -> tuple[str, ...]:
    """For a settings validator: `values` unchanged, or ValueError naming the
    setting and the entry that is no address or range."""
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{setting}: not an address or range: {value!r}") from None
    return values


def admits(bound: tuple[IPNetwork, ...], text: str) -> bool:
    """The IP binding rule (gate 117, PROTOCOL.md): an account with no bound
    address takes requests from anywhere; one with some, only from them."""
    if not bound:
        return True
    judged = address(text)
    return judged is not None and any(judged in net for net in bound)
