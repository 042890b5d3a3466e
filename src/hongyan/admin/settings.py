"""Settings of the operator console (`[admin]` in hongyan.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AdminSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Serve the operator console at all.
    enabled: bool = True
    # With a port, the console has a listener of its own (host:port) and is NOT
    # served on the customer listener, so that it need not be reachable from
    # where customers come from; without one, it is /admin/ on the same listener.
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    # Sessions end after this long without a request, and this long after
    # sign-in whatever happens (server-side, as the customer console's).
    idle_timeout_s: int = Field(default=30 * 60, ge=60)
    max_age_s: int = Field(default=12 * 3600, ge=300)
    # `lockout_failures` failed sign-ins of one operator within
    # `lockout_window_s` lock that operator for `lockout_s`; from one client
    # address, `address_failures` (whatever names it tries) lock the address.
    lockout_failures: int = Field(default=5, ge=1)
    address_failures: int = Field(default=20, ge=1)
    lockout_window_s: int = Field(default=15 * 60, ge=1)
    lockout_s: int = Field(default=15 * 60, ge=1)
    # The issuer an authenticator app shows beside the operator's name.
    totp_issuer: str = Field(default="hongyan", min_length=1, max_length=40)
    # The console's language until an operator picks one (the sidebar's switch).
    default_language: str = Field(default="en", pattern="^(zh|en)$")

    @property
    def own_listener(self) -> bool:
        return self.enabled and self.port is not None
