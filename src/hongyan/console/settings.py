"""Settings of the web console (`[console]` in hongyan.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KIB = 1024
MIB = 1024 * KIB


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Serve the customer console under /console/ (and `/` sends a browser there).
    enabled: bool = True
    # A session ends after this long without a request, and this long after
    # sign-in whatever happens (OWASP's session management guidance: idle
    # and absolute timeouts, both server-side).
    idle_timeout_s: int = Field(default=30 * 60, ge=60)
    max_age_s: int = Field(default=12 * 3600, ge=300)
    # The largest upload of numbers (.txt, .csv, .xlsx) the send page takes:
    # 100,000 numbers as an .xlsx are ~1.5 MB, as text ~1.3 MB.
    max_upload_bytes: int = Field(default=16 * MIB, ge=64 * KIB)
    # Numbers in one console send (all-or-nothing, like one /mt/ request).
    max_numbers: int = Field(default=100_000, ge=1)
    # A send's numbers wait this long between the form and its confirmation.
    draft_keep_s: int = Field(default=3600, ge=60)
    # Language of a browser that has not chosen one: "zh" or "en".
    default_language: str = Field(default="zh", pattern="^(zh|en)$")
