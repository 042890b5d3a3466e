"""How hard push tries: its settings and the per-host breaker (the retry
schedule is the platform's one rule, `hongyan.core.retry`).

Pure decisions with no I/O, so the pusher's behaviour under failure can be
tested without a clock or a socket.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator
from yarl import URL

from hongyan.core.addresses import check_networks


class PushSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Whether this process pushes (like `run_dispatcher`).
    run: bool = True
    # Ranges a callback URL may resolve into although they are not public
    # (e.g. "127.0.0.1/32" for tests, or a customer's VPN range).
    allowed_networks: tuple[str, ...] = ()
    connect_timeout_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    # Retries: core/retry.py's backoff from base, at most max; then give up
    # (the item goes back to /st/ or /rx/) once it is older than give_up_s.
    retry_base_s: float = Field(default=10.0, gt=0)
    retry_max_s: float = Field(default=1800.0, gt=0)
    give_up_s: float = Field(default=86_400.0, gt=0)
    # Isolation: requests in flight per host, and the breaker that stops
    # calling a host after consecutive failures, for open_s doubling to max.
    per_host_concurrency: int = 8
    breaker_failures: int = 5
    breaker_open_s: float = 30.0
    breaker_max_open_s: float = 600.0
    # Claiming from the outbox: items a claim takes, items held in memory per
    # account at most, how long a claim is leased (renewed while held).
    claim_batch: int = 500
    per_account_held: int = 200
    lease_s: float = 60.0
    poll_s: float = 0.2
    # Reports a batched POST carries at most (accounts that opt in).
    batch_max_lines: int = 100
    # How long an approved DNS answer is trusted before the host is checked again.
    dns_cache_s: float = 30.0

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value, "allowed_networks")

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n, strict=False) for n in self.allowed_networks]


def host_key(url: str) -> str:
    """The host a callback URL's breaker and request slots belong to; raises
    ValueError for a URL that cannot be read."""
    parsed = URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


CLOSED = "closed"
OPEN = "open"
PROBING = "probing"


@dataclass
class Breaker:
    """One host's circuit breaker: closed, open until a time, then one probe at a time."""

    failures_to_open: int
    open_s: float
    max_open_s: float
    failures: int = 0
    trips: int = 0
    open_until: float = 0.0
    probing: bool = False

    def allows(self, now: float) -> bool:
        """Whether a request may go now; after the open period, one probe at a time."""
        if self.trips == 0:
            return True
        if now < self.open_until or self.probing:
            return False
        self.probing = True
        return True

    def is_open(self, now: float) -> bool:
        return self.trips > 0 and (now < self.open_until or self.probing)

    def state(self, now: float) -> str:
        """closed; open (no request goes); probing (one request may, or one is on its way)."""
        if self.trips == 0:
            return CLOSED
        return OPEN if now < self.open_until else PROBING

    def succeeded(self) -> bool:
        """Record a success; True when this closed a breaker that was open."""
        recovered = self.trips > 0
        self.failures = self.trips = 0
        self.open_until = 0.0
        self.probing = False
        return recovered

    def inconclusive(self) -> None:
        """An attempt that says nothing about the host (e.g. refused before connecting)."""
        self.probing = False

    def failed(self, now: float) -> bool:
        """Record a failure; True when this opened (or re-opened) the breaker."""
        self.failures += 1
        if self.probing or (self.trips == 0 and self.failures >= self.failures_to_open):
            self.probing = False
            self.trips += 1
            self.open_until = now + min(self.open_s * 2.0 ** (self.trips - 1), self.max_open_s)
            return True
        return False
