"""Which callback URLs may be called (PROTOCOL.md "Push"; SSRF protection).

A URL is http(s) with a host; every address the host resolves to must be
public: loopback, private, link-local (with cloud metadata at 169.254.169.254),
shared (100.64/10), multicast, reserved and unspecified addresses are
refused, unless the operator allows a range in the settings (tests allow
127.0.0.1). It is checked when the customer configures it and again before
every send, since DNS answers change; the check returns the addresses it
approved so the caller connects to one of those, not to a second lookup.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from hongyan.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Not covered by the `is_*` properties of every Python version we support.
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15")
)


class RefusedTarget(InvalidInput):
    """A callback URL that may not be called."""


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _ALSO_REFUSED)
    )


def parse_target(url: str) -> tuple[str, int]:
    """(host, port) of an acceptable callback URL's form; raises RefusedTarget."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget("a callback URL is http:// or https://")
    if not parts.hostname:
        raise RefusedTarget("a callback URL needs a host")
    if parts.username or parts.password:
        raise RefusedTarget("a callback URL may not carry credentials")
    if parts.fragment or url.strip().endswith("#"):
        raise RefusedTarget("a callback URL has no #fragment (the push's query would follow it)")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url.strip()):
        raise RefusedTarget("a callback URL has no spaces or control characters")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedTarget("the callback URL's port is not a number") from None
    return parts.hostname, port


async def system_resolver(host: str, port: int) -> list[str]:
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def approved_addresses(
    url: str, allowed: Sequence[Network] = (), resolve: Resolver = system_resolver
) -> list[Address]:
    """The addresses `url` may be called at; raises RefusedTarget if any is not public."""
    host, port = parse_target(url)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [
                ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolve(host, port)
            ]
        except OSError as exc:
            raise RefusedTarget(f"cannot resolve {host}: {exc.strerror or exc}") from None
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address")
    for address in addresses:
        if not is_public(address) and not any(address in n for n in allowed):
            raise RefusedTarget(f"{host} resolves to {address}, which is not a public address")
    return addresses
