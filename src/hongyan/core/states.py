"""The states a message, a part and a pushed item go through, and the
statuses the platform itself writes, one enum each.

They are `StrEnum`s: the database keeps their plain string values, a value
read back compares equal to its member, and a status from a carrier (any
word: `UNDELIV`, `MK:0001`, `ESME_RINVDSTADR`) stays a plain string beside
the platform's own.
"""

from __future__ import annotations

from enum import StrEnum

from hongyan.protocol.stat import Stat


class MessageState(StrEnum):
    """A message to one number: waiting to be submitted, submitted and waiting
    for its receipts, or final (exactly once, with its report)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (MessageState.DELIVERED, MessageState.FAILED)


class PartState(StrEnum):
    """One submitted part: accepted upstream and waiting for its receipt, or final."""

    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Status(StrEnum):
    """The statuses the platform writes itself (PROTOCOL.md "/st/", "/rd/");
    otherwise a status is the carrier's word or code, as it came."""

    DELIVERED = "100"
    WAITING = "0"  # /rd/: no report yet
    EXPIRED = "EXPIRED"  # not delivered within the message's time to live
    REJECTED = "REJECTD"  # refused upstream without a code of its own
    # A number refused at acceptance: the stat code that says why.
    BAD_NUMBER = str(int(Stat.BAD_NUMBER))
    PER_NUMBER_LIMITED = str(int(Stat.PER_NUMBER_LIMITED))
    # The customer cancelled a scheduled send before this message went out
    # (core/cancel.py); its parts were given back.
    CANCELLED = "CANCELED"


class StatusClass(StrEnum):
    """A message's status as a customer reads it (PROTOCOL.md "/rd/": `0`
    waiting for its report, `100` delivered, anything else the failure);
    the console's status filter and badge (core/records.py)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    WAITING = "waiting"


class ChannelState(StrEnum):
    """A channel as the dispatcher sees it: takes submits, cannot (nothing is
    routed to it while a failover can take its messages), or asks to slow down."""

    UP = "up"
    DOWN = "down"
    THROTTLED = "throttled"


class BindState(StrEnum):
    """One connection of a channel (an SMPP bind), as `channel list` shows it."""

    DOWN = "down"
    CONNECTING = "connecting"
    BOUND = "bound"


class LedgerKind(StrEnum):
    """Why an account's balance changed (one ledger entry each)."""

    TOPUP = "topup"
    DEBIT = "debit"  # an operator took parts away
    CHARGE = "charge"  # an accepted request
    REFUND = "refund"  # a failed message's parts given back


class OutboxKind(StrEnum):
    """What a push outbox row carries."""

    REPORT = "report"
    REPLY = "reply"


class OutboxState(StrEnum):
    """A push outbox row: waiting (new or retrying), or given up and returned to pull."""

    QUEUED = "queued"
    GIVEN_UP = "given_up"


class PushResult(StrEnum):
    """What came of one claimed outbox row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"
    RELEASE = "release"  # not tried (shutting down, host's breaker open): due again at next_at
