"""What a push sends: the document's name=value forms, GBK, and the signature.

Replies (spec §6.2): `cmd=res&uid=&time=&mobile=&content=&gateway=`.
Reports (PROTOCOL.md "Push", the document's example URL):
`cmd=status&uid=&mobileids=&mobile=&status=&time=`.

Values are percent-encoded GB18030, which is GBK for every character GBK
has, and keeps the rest (emoji, rare characters) instead of dropping them.
A GET carries the form as the URL's query; a POST as an
`application/x-www-form-urlencoded; charset=GBK` body, one form a line when
an account has opted in to batched reports.

Signature (when the account has a push secret): `X-Hongyan-Timestamp` is the
Unix time in seconds, `X-Hongyan-Signature` the lowercase hex
HMAC-SHA256(secret, timestamp + "." + payload), where the payload is the POST
body, or the query string (after `?`) of a GET, exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import quote_plus

CHARSET = "gb18030"
FORM_TYPE = "application/x-www-form-urlencoded; charset=GBK"
TIMESTAMP_HEADER = "X-Hongyan-Timestamp"
SIGNATURE_HEADER = "X-Hongyan-Signature"


class PushRequest(NamedTuple):
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


def report_form(uid: str, mobileid: str, mobile: str, status: str, time: str) -> bytes:
    return encode_form(
        (
            ("cmd", "status"),
            ("uid", uid),
            ("mobileids", mobileid),
            ("mobile", mobile),
            ("status", status),
            ("time", time),
        )
    )


def reply_form(uid: str, time: str, mobile: str, content: str, gateway: str) -> bytes:
    return encode_form(
        (
            ("cmd", "res"),
            ("uid", uid),
            ("time", time),
            ("mobile", mobile),
            ("content", content),
            ("gateway", gateway),
        )
    )


def encode_form(fields: Sequence[tuple[str, str]]) -> bytes:
    return "&".join(
        f"{name}={quote_plus(value, safe='', encoding=CHARSET, errors='replace')}"
        for name, value in fields
    ).encode("ascii")


def signature(secret: str, timestamp: str, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256)
    return mac.hexdigest()


def build_request(
    url: str, method: str, forms: Sequence[bytes], secret: str, timestamp: int
) -> PushRequest:
    """The HTTP request that pushes `forms` (several only for a batched POST)."""
    payload = b"\n".join(forms)
    headers: dict[str, str] = {}
    if method == "POST":
        headers["Content-Type"] = FORM_TYPE
        target, body = url, payload
    else:
        if len(forms) != 1:
            raise ValueError("a GET push carries one form")
        separator = "" if url.endswith(("?", "&")) else ("&" if "?" in url else "?")
        target, body = url + separator + payload.decode("ascii"), b""
    if secret:
        stamp = str(timestamp)
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = signature(secret, stamp, payload)
    return PushRequest(method, target, body, headers)
