"""Which channel takes a message: the first matching route, else the fallback;
failing over to the route's backups, in order, while its channel is down.

A route matches by the carrier of the number (China Mobile / Unicom / Telecom,
from phonenumbers' carrier data) and by account; an empty condition matches
anything. Routes come from the settings, in order:

    [[routes]]
    channel = "cmcc"
    carriers = ["china_mobile"]
    accounts = ["acme"]        # optional
    failover = ["backup"]      # optional: tried in order while `channel` is down

`fallback_failover` does the same for the fallback channel. When every
candidate is down the first one is kept: its messages wait and are retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import phonenumbers
from phonenumbers import carrier as carrier_data
from pydantic import BaseModel

from hongyan.core.models import Claimed

CARRIERS = {
    "China Mobile": "china_mobile",
    "China Unicom": "china_unicom",
    "China Telecom": "china_telecom",
}


class RouteSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    channel: str
    carriers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    failover: tuple[str, ...] = ()


def carrier_of(mobile: str) -> str:
    """`china_mobile`, `china_unicom`, `china_telecom`, or "" (fixed line, unknown)."""
    if len(mobile) != 11 or not mobile.startswith("1"):
        return ""
    return _carrier_of_prefix(mobile[:7])


@lru_cache(maxsize=65_536)
def _carrier_of_prefix(prefix: str) -> str:
    # Carrier data is by number block: the first seven digits decide it, and a
    # lookup costs ~15 us, so it is asked once per block.
    number = phonenumbers.parse("+86" + prefix + "0000")
    return CARRIERS.get(carrier_data.name_for_number(number, "en"), "")


def _always_up(_name: str) -> bool:
    return True


class Router:
    def __init__(
        self,
        fallback: str,
        routes: Sequence[RouteSettings] = (),
        fallback_failover: Sequence[str] = (),
    ) -> None:
        self.fallback = fallback
        self.routes = tuple(routes)
        self.fallback_failover = tuple(fallback_failover)

    def route(self, message: Claimed, is_up: Callable[[str], bool] = _always_up) -> str:
        candidates: tuple[str, ...] = (self.fallback, *self.fallback_failover)
        for route in self.routes:
            if route.accounts and message.uid not in route.accounts:
                continue
            if route.carriers and carrier_of(message.mobile) not in route.carriers:
                continue
            candidates = (route.channel, *route.failover)
            break
        return next((name for name in candidates if is_up(name)), candidates[0])
