"""What the sync and async clients share: credentials, and each endpoint's request.

An endpoint call is a `Call`: the URL, the form to POST, and the parser of the
answer. The two clients differ only in how they carry it over HTTP.

Every request is a POST of an `application/x-www-form-urlencoded` form (the
password stays out of URLs and access logs, and POST takes up to 2000
numbers), with text as UTF-8 and `encode=utf8` where the endpoint has text.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import partial
from typing import Generic, TypeVar

import httpx

from hongyan.client import parse
from hongyan.client.errors import TransportError
from hongyan.client.models import RecordPage, Reply, SendResult, StatusReport

T = TypeVar("T")

USER_AGENT = "hongyan-client/0.1"
MAX_NUMBERS = 2000
"""Numbers the protocol takes in one POST to /mt/."""

_SEPARATORS = re.compile("[,，]")
_BLANKS = " \t\r\n\u3000\u00a0"
_ID_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
_PWD = re.compile(r"[0-9a-fA-F]{32}")


def api_password(password: str, uid: str) -> str:
    """The protocol's `pwd`: md5(password + uid), 32 lowercase hex digits.

    >>> api_password("123123", "test")
    'b9887c5ebb23ebb294acab183ecf0769'
    """
    return hashlib.md5((password + uid).encode("utf-8")).hexdigest()


def split_mobiles(mobiles: str | Sequence[str]) -> list[str]:
    """Numbers as the protocol reads them: split on `,` and `，`, trimmed, empties dropped."""
    joined = mobiles if isinstance(mobiles, str) else ",".join(mobiles)
    entries = (part.strip(_BLANKS) for part in _SEPARATORS.split(joined))
    return [entry for entry in entries if entry]


def make_mobileid(mobile: str, stamp_ms: int) -> str:
    """The document's id for a message: the number + epoch milliseconds (≤ 40 of [0-9A-Za-z_-])."""
    return _ID_UNSAFE.sub("", mobile)[:27] + str(stamp_ms)


def server_time(moment: datetime, zone: tzinfo | None, *, seconds: bool = True) -> str:
    """`moment` as the server's wall time, `YYYY-MM-DD HH:MM:SS`.

    An aware datetime is converted to `zone` first; a naive one is taken as
    already the server's wall time. Without `seconds`, a time on the minute is
    written in the document's own form `YYYY-MM-DD HH:MM`.
    """
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    if not seconds and moment.second == 0 and moment.microsecond == 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request: POST `form` to `url`; `parse` reads the answer's bytes."""

    url: str
    form: dict[str, str]
    parse: Callable[[bytes], T]

    def read(self, response: httpx.Response) -> T:
        """The parsed answer. An HTTP error status is a TransportError, unless its body
        is a protocol refusal (a proxy's error page is not an answer; a refusal is)."""
        if not response.is_success:
            error = parse.refusal(parse.decode(response.content))
            if error is not None:
                raise error
            raise TransportError(
                f"POST {self.url}: HTTP {response.status_code} {response.reason_phrase}",
                status_code=response.status_code,
            )
        return self.parse(response.content)


def transport_error(url: str, exc: httpx.HTTPError) -> TransportError:
    """The SDK's error for a request that got no answer (raise it `from exc`)."""
    detail = f": {exc}" if str(exc) else ""
    return TransportError(f"POST {url}: {type(exc).__name__}{detail}")


class ClientBase:
    """Credentials and the requests of each endpoint; no I/O."""

    def __init__(
        self,
        url: str,
        uid: str,
        password: str | None = None,
        *,
        pwd: str | None = None,
        zone: tzinfo | None = parse.BEIJING,
        max_numbers: int = MAX_NUMBERS,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {url!r}")
        if (password is None) == (pwd is None):
            raise ValueError("give exactly one of password and pwd")
        if pwd is not None and not _PWD.fullmatch(pwd):
            raise ValueError("pwd must be 32 hex digits: md5(password + uid)")
        self.url = url.rstrip("/")
        self.uid = uid
        self._pwd = api_password(password, uid) if password is not None else str(pwd).lower()
        self.zone = zone
        self.max_numbers = max_numbers

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, uid={self.uid!r})"

    def _call(self, path: str, parser: Callable[[bytes], T], **form: str) -> Call[T]:
        return Call(f"{self.url}/{path}/", {"uid": self.uid, "pwd": self._pwd, **form}, parser)

    def _send_call(
        self,
        mobiles: str | Sequence[str],
        content: str,
        mobileids: str | Sequence[str] | None,
        mid: str | None,
        at: datetime | None,
    ) -> Call[SendResult]:
        numbers = split_mobiles(mobiles)
        if len(numbers) > self.max_numbers:
            raise ValueError(
                f"{len(numbers)} numbers: one request takes at most {self.max_numbers};"
                " split the list (each request is charged all or nothing)"
            )
        given = split_mobiles(mobileids) if isinstance(mobileids, str) else list(mobileids or ())
        stamp = time.time_ns() // 1_000_000
        ids = tuple(
            given[i].strip() if i < len(given) and given[i].strip() else make_mobileid(m, stamp)
            for i, m in enumerate(numbers)
        )
        form = {"mobile": ",".join(numbers), "content": content, "encode": "utf8"}
        if numbers:
            form["mobileids"] = ",".join(ids)
        if mid:
            form["mid"] = mid
        if at is not None:
            form["time"] = server_time(at, self.zone, seconds=False)
        return self._call("mt", partial(_sent, tuple(numbers), ids), **form)

    def _reports_call(self) -> Call[list[StatusReport]]:
        return self._call("st", partial(parse.parse_reports, zone=self.zone))

    def _replies_call(self, since: datetime | None) -> Call[list[Reply]]:
        form = {} if since is None else {"time": server_time(since, self.zone)}
        return self._call("rx", partial(parse.parse_replies, zone=self.zone), **form)

    def _balance_call(self, *, sent: bool = False) -> Call[int]:
        return self._call("mm", parse.parse_remain, **({"cmd": "send"} if sent else {}))

    def _records_call(self, page: int, day: date | None, key: str | None) -> Call[RecordPage]:
        if page < 1:
            raise ValueError("page is 1-based")
        form = {"page": str(page), "encode": "utf8"}
        if day is not None:
            if isinstance(day, datetime):
                day = day.astimezone(self.zone) if day.tzinfo and self.zone else day
                day = day.date()
            form["date"] = day.isoformat()
        if key:
            form["key"] = key
        return self._call("rd", partial(parse.parse_records, zone=self.zone, page=page), **form)


def _sent(mobiles: tuple[str, ...], ids: tuple[str, ...], body: bytes) -> SendResult:
    return SendResult(mobiles, ids, parse.parse_send(body))
