"""IP binding (gate 117): which addresses an account binds, and what a change does.

One rule for every caller: the operator's CLI (`Operator.bind_address`) and
the customer's console check a change here, and the gates apply the binding
with `addresses.admits`. `refused_after` is the console's warning: the
recent API clients a change would start refusing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from hongyan.core.addresses import admits, networks
from hongyan.core.recent_clients import RecentClient
from hongyan.errors import InvalidInput


class BindingRefused(InvalidInput):
    """A binding change the rule does not allow; `reason` says which rule, for a
    message in the customer's language: "invalid", "duplicate" or "full"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_network(text: str) -> str:
    """An address or CIDR range to bind, as it is stored (`192.0.2.0/24`,
    `2001:db8::1/128`). Host bits of a range are dropped (`10.1.2.3/8` binds
    `10.0.0.0/8`), as the CLI always did."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise BindingRefused("invalid", f"not an IP address or CIDR range: {text!r}") from None


def check_bind(bound: Sequence[str], network: str, uid: str, most: int) -> None:
    """May `network` be added to an account that binds `bound`? (`most`: the setting
    max_bound_addresses, PROTOCOL.md "IP binding": up to 10.)"""
    if network in bound:
        raise BindingRefused("duplicate", f"{network} is already bound to {uid!r}")
    if len(bound) >= most:
        raise BindingRefused(
            "full", f"{uid!r} already has {len(bound)} bound addresses (at most {most})"
        )


def refused_after(
    bound: Sequence[str], after: Sequence[str], clients: Sequence[RecentClient]
) -> list[RecentClient]:
    """The clients admitted with `bound` that `after` would refuse 117: the first
    binding narrows "anywhere" to one range; removing one drops its clients,
    unless it was the last (no binding admits every address again)."""
    now, then = networks(bound), networks(after)
    return [c for c in clients if admits(now, c.address) and not admits(then, c.address)]
