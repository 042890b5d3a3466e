"""Which callback URLs may be called (PROTOCOL.md "Push"; SSRF protection).

A URL is http(s) with a host; every address the host resolves to must be
public: loopback, private, link-local (with cloud metadata at 169.254.169.254),
shared (100.64/10), multicast, reserved and unspecified addresses are
refused, unless the operator allows a range in the settings (tests allow
127.0.0.1). It is checked when the customer configures it and again before
every send, since DNS answers change; the check returns the addresses it
approved so the caller connects to one of those, not to a second lookup.
A host that `inet_aton` reads as an IPv4 address (`2130706433`,
`0x7f000001`, `0177.0.0.1`, `127.1`) is that address, as the system resolver
would make it, checked without a lookup.

IPv6 addresses that carry an IPv4 address are judged by where they lead:

* IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is the IPv4 address itself.
* NAT64 (`64:ff9b::/96`, RFC 6052; `64:ff9b:1::/48`, RFC 8215) and
  IPv4-compatible (`::a.b.c.d`) addresses are refused outright (`::/8` is
  reserved): a NAT64 of our own network would translate to any IPv4 address.
* 6to4 (`2002:WWXX:YYZZ::/48`, RFC 3056) is carried over IPv4 to the 6to4
  router at W.X.Y.Z and on into the site behind it. One whose embedded IPv4
  is not public (2002:7f00:1::, 2002:a00:1::, 2002:a9fe:a9fe:: …) leads
  inside: refused. One whose embedded IPv4 is public is refused too: a 6to4
  site has a public IPv4 address by construction, so its customer can name
  that instead and loses nothing; 6to4 is deprecated (RFC 7526) and its relays
  come and go, so pushes to it would fail at random; IANA does not list it
  as globally reachable; and recent CPython releases count all of 2002::/16
  as private, so refusing it here keeps the answer the same on every Python
  we support. (A host whose DNS also answers a 6to4 AAAA is
  refused as a whole, like any mixed answer; the message names the address.)
* Teredo (`2001::/32`, RFC 4380) is refused, whatever it embeds. It carries
  two IPv4 addresses (the Teredo server's, and the client's NAT mapping,
  obfuscated), its packets go as UDP to that client address through relays
  (directly, if this host is itself a Teredo client), and it is no place for
  a callback receiver: a client-only NAT traversal whose address changes with
  the NAT mapping, which IANA does not list as globally reachable (RFC 6890)
  and modern systems turn off. Checking both embedded addresses would still
  leave a path through relays we cannot see, for no customer who needs it.
* Site-local (`fec0::/10`, deprecated by RFC 3879 but still routed inside
  some sites) is refused like private space; Python's `is_private` omits it.
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
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",
        "192.0.0.0/24",
        "198.18.0.0/15",
        "2001::/32",  # Teredo, RFC 4380 (see above)
        "2002::/16",  # 6to4, RFC 3056 (see above)
        "3fff::/20",  # documentation, RFC 9637 (private in recent CPython too)
        "fec0::/10",  # site-local, RFC 3879
    )
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
    literal = _literal(host)
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


def _literal(host: str) -> Address | None:
    """The address a URL's host names without a lookup, if it is one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # Decimal, hex, octal and short IPv4 forms, read as the resolver reads them.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
