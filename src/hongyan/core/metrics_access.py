"""Who may read the operator's endpoints on the customer port (/metrics).

Customers must not: the exposition shows every endpoint's traffic and the
queue. An operator's scraper runs on the machine itself or on a network the
operator lists (`http.metrics_allow`, loopback by default).

The client address is the one the gates judge (`Gatekeeper.client_address`:
X-Forwarded-For believed only from a trusted proxy). Behind a reverse proxy on
the same host every peer is 127.0.0.1, so a request that names a forwarded
client we could not resolve (the proxy is not trusted, or every hop is) is
refused: its real client is unknown, and may be a customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from hongyan.core.addresses import address
from hongyan.core.models import IPNetwork


def may_read_metrics(peer: str, client: str, forwarded: bool, allowed: Sequence[IPNetwork]) -> bool:
    """`peer` is the socket's; `client` the address judged from it and X-Forwarded-For;
    `forwarded`: the request carries a forwarding header (X-Forwarded-For, Forwarded,
    X-Real-IP)."""
    if forwarded and client == peer:
        return False
    judged = address(client)
    return judged is not None and any(judged in network for network in allowed)
