"""Domain records: plain data passed between the layers, frozen where they
can be, built from store rows with `from_row()` or by keyword.

Accounts and requests (what the customer API and the operator work with);
messages held for delivery and what came of submitting them (dispatcher and
store); and what carriers send back (channels and store: both depend on these,
neither on the other).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hongyan.core.limits import Window, parse_windows
from hongyan.core.states import BindState, ChannelState
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
class Origin:
    """Where a request came from: the socket's peer, and the X-Forwarded-For it
    carried (believed only from a trusted proxy, PROTOCOL.md gate 5)."""

    peer: str
    forwarded_for: str | None = None


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


# -- delivery: what a dispatcher holds, and what came of submitting it -------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message a dispatcher holds under lease, with what it needs to submit."""

    id: int
    account_id: int
    uid: str
    mobile: str
    content: str
    source: str  # the account's extension code + mid (without the gateway prefix)
    parts: int
    attempts: int  # claims so far, this one included
    created_at: int
    submitted_seqs: frozenset[int]  # parts accepted upstream already
    channel: str = ""  # where its first parts went, if any did


@dataclass(frozen=True, slots=True)
class PartOutcome:
    seq: int
    upstream_id: str | None
    error: str = ""
    temporary: bool = False
    at: int = 0  # when it was submitted; 0: the outcome's time
    total: int = 0  # segments the channel cut the message into; 0: as billed


@dataclass(slots=True)
class MessageOutcome:
    """What came of submitting (some of) one claimed message's parts."""

    message_id: int
    channel: str
    now: int
    parts: list[PartOutcome] = field(default_factory=list)
    retry_at: int = 0  # when a temporary failure may be tried again
    expires_at: int = 0  # past this, a temporary failure is final (EXPIRED)
    receipt_scope: str = ""  # the channel name receipts for these parts come under
    # The claim this outcome comes from (the message's claims so far, as
    # `Claimed.attempts`): recorded only while no later claim took the message.
    attempt: int = field(kw_only=True)


# -- channels as operators see them -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class BindStatus:
    """One connection of a channel (an SMPP bind), as `channel list` shows it."""

    bind: str  # its label, e.g. "1/trx"
    state: BindState
    in_flight: int  # window slots in use: submits on the wire or about to be
    window: int
    submitted: int
    last_error: str = ""
    last_error_at: int = 0  # wall clock ms; 0: none yet
    rate: float = 0.0  # submits a second, as last reported
    errors: int = 0  # errors noted on it since the worker started


@dataclass(frozen=True, slots=True)
class ReportedChannel:
    """A channel's state as the running server last reported it to the store."""

    name: str
    kind: str
    state: ChannelState
    tps: float | None
    rate: float  # parts a second, as last reported
    submitted: int
    awaiting_receipts: int  # messages submitted through it that wait for receipts
    last_error: str
    updated_at: int  # wall clock ms
    binds: tuple[BindStatus, ...] = ()
    errors: int = 0  # submits not taken (temporary or refused) since the worker started
    queued: int = 0  # messages waiting for it: retrying, or held while it is paused
    # Receipts of about the last hour: delivered of all final; receipt time
    # minus submit time of the recent ones (None: no receipt yet).
    receipts_delivered: int = 0
    receipts_final: int = 0
    latency_p50_ms: int | None = None
    latency_p95_ms: int | None = None
    # The worker node holding its lease ("" none), and until when (wall clock ms).
    owner: str = ""
    owner_until: int = 0


# -- what carriers send back ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: `status` "100" for delivered, else the upstream's word."""

    upstream_id: str
    status: str
    at: int  # epoch ms


@dataclass(frozen=True, slots=True)
class InboundReply:
    """A reply (MO) from a handset to one of our gateway numbers."""

    mobile: str
    gateway: str  # the full destination number the handset sent to
    text: str
    at: int


@dataclass(frozen=True, slots=True)
class InboundFragment:
    """One part of a long reply; the sink keeps it until the reply is whole."""

    mobile: str
    gateway: str
    reference: int
    total: int
    seq: int
    text: str
    at: int


@dataclass(frozen=True, slots=True)
class SentPart:
    """A part submitted through a channel that still waits for its receipt."""

    upstream_id: str
    destination: str
    submitted_at: int
