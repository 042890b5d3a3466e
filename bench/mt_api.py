"""The customer API as the bench uses it: the account, the /mt/ requests, the answer.

Where the server listens, the bench account's uid and password, the message
text, the mobile numbers (each used once) and the bytes of single-number GET
and many-number POST requests, built by hand. An answer starting with
`OK_PREFIX` means the message was accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

HOST = "127.0.0.1"
UID = "bench"
PASSWORD = "bench-password"
BALANCE = 10**15
# 发送测试 in GBK, as in the spec's example.
CONTENT = b"%B7%A2%CB%CD%B2%E2%CA%D4"
OK_PREFIX = b"sms&stat=100&"
MOBILE_BASE = 13900000000
MOBILE_SPAN = 10**8  # 139 + 8 digits

# The /mt/ parameters up to the mobile numbers, as a query string or a form body.
FORM = (
    f"uid={UID}&pwd={hashlib.md5((PASSWORD + UID).encode()).hexdigest()}&content=".encode()
    + CONTENT
    + b"&mobile="
)
GET_PREFIX = b"/mt/?" + FORM  # a single number follows


class Mobiles:
    """Distinct valid mobile numbers: 139 followed by an 8-digit counter."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> int:
        """The first of `count` fresh consecutive numbers (wrapping after 10^8)."""
        if self.next + count > MOBILE_SPAN:
            self.next = 0
        first = MOBILE_BASE + self.next
        self.next += count
        return first


def get_request(port: int, mobiles: Mobiles) -> Callable[[], bytes]:
    """Single-number GET /mt/ requests, a fresh number each."""
    head = b"GET " + GET_PREFIX
    tail = f" HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()

    def make() -> bytes:
        return b"%s%d%s" % (head, mobiles.take(1), tail)

    return make


def post_request(port: int, mobiles: Mobiles, count: int) -> Callable[[], bytes]:
    """POST /mt/ requests (form body) of `count` fresh numbers each."""
    head = (
        f"POST /mt/ HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: "
    ).encode()

    def make() -> bytes:
        first = mobiles.take(count)
        body = FORM + ",".join(map(str, range(first, first + count))).encode()
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)

    return make
