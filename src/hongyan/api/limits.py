"""Bounds on everything an HTTP client controls, and who may read /metrics.

`Settings.http` (TOML `[http]`, env `HONGYAN_HTTP__<NAME>`). The front door
(`api/door.py`, `api/server.py`) enforces them before a request reaches the
protocol code; each bound answers in the protocol's own form where it still
can (PROTOCOL.md "Transport": every request gets a protocol answer).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hongyan.core.addresses import check_networks

KIB = 1024
MIB = 1024 * KIB

# The send endpoints carry numbers, ids and content; the others a few short fields.
SEND_ENDPOINTS = frozenset({"mt", "mtutf8", "tx"})


class HttpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # A request head (RFC 9112 §2.1): its request line, then its header fields.
    # Request lines up to 64 KiB have always worked (httptools refused longer
    # ones with uvicorn's plain 400; real clients send GETs of 2,000 numbers,
    # ~28 KB, and get 106): they keep working, and a longer one gets the
    # protocol's answer. The header fields of a real client take well under
    # 1 KB; 16 KiB is also Node's (llhttp) default. httptools has no limit.
    max_request_line_bytes: int = Field(default=64 * KIB, ge=1 * KIB)
    max_header_bytes: int = Field(default=16 * KIB, ge=1 * KIB)
    max_headers: int = Field(default=100, ge=8)  # Apache's LimitRequestFields
    # From the first byte of a head to its end (slowloris sends one line at a time).
    head_timeout_s: float = Field(default=10.0, gt=0)
    # Nothing sent on a connection, after it opened or after the last answer.
    idle_timeout_s: float = Field(default=5.0, gt=0)
    # A body must arrive within body_timeout_s, extended by one second per
    # body_min_rate bytes received (Apache mod_reqtimeout's body=...,MinRate=...),
    # but never more than body_timeout_s ahead: time is not banked by a burst.
    body_timeout_s: float = Field(default=10.0, gt=0)
    body_min_rate: int = Field(default=1 * KIB, gt=0)
    # Body of /mt/, /mtutf8/ and /tx/. The most a real request carries (PROTOCOL.md
    # "/mt/"): 2000 numbers written `0086` + 11 digits with a full-width comma
    # percent-encoded (%EF%BC%8C): 2000 x 24 = 48,000 bytes; 2000 mobileids of
    # 40 characters and an encoded comma: 2000 x 43 = 86,000; 500 characters
    # of content at 4 bytes each, percent-encoded: 6,000; uid, pwd and the
    # rest: under 1,000. About 141,000 bytes; 192 KiB leaves a third spare for
    # multipart framing and odd clients.
    max_send_body_bytes: int = Field(default=192 * KIB, ge=1 * KIB)
    # Body of every other path (/mm/ /st/ /rx/ /rd/ take a few short fields).
    max_body_bytes: int = Field(default=8 * KIB, ge=1 * KIB)
    # Bodies held in memory at once, all connections together; a request
    # whose body would go over is answered 103 at once.
    max_buffered_body_bytes: int = Field(default=64 * MIB, ge=64 * KIB)
    # After refusing a request the server reads and throws away what the client
    # is still sending, up to this many bytes, so the client can finish writing
    # and read the answer (a close with unread data resets the connection).
    discard_max_bytes: int = Field(default=16 * MIB, ge=0)
    # ... at this pace: reading and dropping costs CPU (over loopback, four
    # clients repeating a 4 MB POST made the server read 1.2 GB/s, 60 % of a
    # core). Each connection drops at most discard_rate bytes a second (an
    # 8 MB body takes 2 s), and all of them together discard_rate_total.
    discard_rate: int = Field(default=4 * MIB, gt=0)
    discard_rate_total: int = Field(default=64 * MIB, gt=0)
    # Requests of one connection parsed ahead of their answer (HTTP/1.1
    # pipelining, RFC 9112 §9.3.2). They are answered one at a time anyway; a
    # client writing 8 MB of tiny requests at once had ~250,000 of them parsed
    # and waiting (700 MB). The rest waits, unread, until answers go out.
    max_pipelined_requests: int = Field(default=16, ge=1)
    # Open connections in all, and from one client address (an IPv6 client per
    # /64, which it can rotate freely). Peers in `trusted_proxies` are not
    # limited per address: every customer behind them shares their address.
    # The total is also kept under the process's open-file limit.
    max_connections: int = Field(default=10_000, ge=1)
    max_connections_per_client: int = Field(default=64, ge=1)
    # Who may read /metrics: client addresses judged like the gates judge them
    # (X-Forwarded-For believed only from `trusted_proxies`).
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value, "metrics_allow")


def body_limit(http: HttpSettings, endpoint: str | None) -> int:
    """The largest body a request to this endpoint (None: not a protocol path) may carry."""
    return http.max_send_body_bytes if endpoint in SEND_ENDPOINTS else http.max_body_bytes
