"""Domain records: frozen, plain data, built from store rows with `from_row()`."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hongyan.core.limits import Window, parse_windows
from hongyan.protocol.dialect import Dialect

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The longest uid: the schema's `accounts.uid` (and `auth_failures.uid`) is this
# wide, and a request naming a longer uid is refused before any lookup
# (PROTOCOL.md gate 2), so a client cannot make the server keep what it sends.
UID_MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Account:
    """What the gates and policy need to know of an account."""

    id: int
    uid: str
    api_key_digest: str = field(repr=False)
    ext_code: str
    frozen: bool
    api_send: bool
    refund_on_failure: bool
    rate_limit: int | None
    per_number: tuple[Window, ...]
    networks: tuple[IPNetwork, ...]
    # The server key version `api_key_digest` was made with (core/credentials.py).
    key_version: int = 1
    dialect: Dialect = Dialect.STANDARD
    # HMAC of md5(login_password) without the uid, when the operator allowed it
    # for this legacy account (PROTOCOL.md "Legacy dialect"); None when not.
    bare_md5_digest: str | None = field(default=None, repr=False)
    bare_md5_key_version: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], networks: list[str]) -> Account:
        return cls(
            id=row["id"],
            uid=row["uid"],
            api_key_digest=row["api_key_digest"],
            ext_code=row["ext_code"],
            frozen=bool(row["frozen"]),
            api_send=bool(row["api_send"]),
            refund_on_failure=bool(row["refund_on_failure"]),
            rate_limit=row["rate_limit"],
            per_number=parse_windows(row["per_number"]),
            networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            key_version=row["key_version"],
            dialect=Dialect(row["dialect"]),
            bare_md5_digest=row["bare_md5_digest"],
            bare_md5_key_version=row["bare_md5_key_version"],
        )


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as an operator sees it."""

    id: int
    uid: str
    ext_code: str
    balance: int
    sent_total: int
    frozen: bool
    api_send: bool
    refund_on_failure: bool
    rate_limit: int | None
    per_number: str
    networks: tuple[str, ...]
    dialect: Dialect = Dialect.STANDARD
    # `pwd` may also be md5(login_password) without the uid (legacy accounts only).
    bare_md5: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any], networks: list[str]) -> AccountSummary:
        return cls(
            id=row["id"],
            uid=row["uid"],
            ext_code=row["ext_code"],
            balance=row["balance"],
            sent_total=row["sent_total"],
            frozen=bool(row["frozen"]),
            api_send=bool(row["api_send"]),
            refund_on_failure=bool(row["refund_on_failure"]),
            rate_limit=row["rate_limit"],
            per_number=row["per_number"],
            networks=tuple(networks),
            dialect=Dialect(row["dialect"]),
            bare_md5=row["bare_md5_digest"] is not None,
        )


class Recipient(NamedTuple):
    """One entry of a request's `mobile`, with its id; `number` None if invalid.

    A tuple, not a frozen dataclass: a POST makes 2000 of them at a time."""

    entry: str
    number: str | None
    mobileid: str


@dataclass(frozen=True, slots=True)
class Submission:
    """A checked /mt/ request, ready to be charged and stored in one transaction."""

    account: Account
    content: str
    parts: int
    mid: str
    source: str
    recipients: tuple[Recipient, ...]
    created_at: int
    due_at: int


@dataclass(frozen=True, slots=True)
class Accepted:
    submission_id: int
    charged: int
    sent: int
    refused: int


@dataclass(frozen=True, slots=True)
class Record:
    """One line of /rd/: a message as the customer sees it."""

    created_at: int
    mobile: str
    content: str
    status: str


@dataclass(frozen=True, slots=True)
class RecordPage:
    total: int
    records: tuple[Record, ...]
