"""Domain records: frozen, plain data, built from store rows with `from_row()`."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hongyan.core.limits import Window, parse_windows

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
