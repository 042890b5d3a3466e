"""The contract every upstream connector (simulator, SMPP, CMPP, HTTP) keeps.

Submitting
    `submit(parts)` hands the channel a batch of message parts and returns one
    `SubmitOutcome` per part, in order: the upstream's id for the part, or an
    error that is `temporary` (throttled, queue full, link down: the
    dispatcher retries later with backoff, the same parts in the same order)
    or permanent (the upstream refused the part: the message fails with that
    code). A channel never retries on its own and never reorders the parts of
    one message; retries belong to the dispatcher, which holds the durable
    state. A channel that cannot answer at all raises `ChannelUnavailable`;
    every part of that batch counts as a temporary error.

Receipts and replies
    Delivery receipts and replies (MO) go to the `ChannelSink` the channel was
    started with. The sink returns only after the receipt or reply is
    committed; only then may the channel acknowledge it upstream (e.g. send
    `deliver_sm_resp`). If the sink raises, the channel must not acknowledge,
    and must offer the item again later: an upstream that redelivers unacked
    items does this for free. A receipt may arrive before its submit outcome
    is recorded; the sink keeps it until the outcome is recorded. Duplicates
    are harmless: a part's first final receipt wins.

Long messages
    `segments(text)` says how the channel cuts a text; the dispatcher submits
    one `Part` per segment, in order, all in one `submit` call, and the
    message is final once every segment is. A channel that paces itself (a
    parts-a-second limit it keeps across its connections) says so in its
    status and the dispatcher leaves the pacing to it.

One node at a time
    `may_send()` says whether this node still holds the channel (its lease,
    dispatch/ownership.py); a channel asks it before each part goes on the
    wire, and a part it may not send is a temporary error. A node that
    stalled and lost the channel so sends not one part more when it wakes,
    whatever it was doing.

Restarts
    After a restart the dispatcher calls `resume(parts)` with the parts it
    submitted through this channel that still wait for a receipt, for
    upstreams that forget in-flight receipts with the connection (the built-in
    simulator); a real carrier redelivers on its own and may ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hongyan.core.models import BindStatus, InboundFragment, InboundReply, Receipt, SentPart
from hongyan.core.states import ChannelState
from hongyan.errors import HongyanError

# The records a channel hands back are the domain's (core/models.py), named
# here as part of the contract.
__all__ = [
    "BindStatus",
    "Channel",
    "ChannelSink",
    "ChannelStatus",
    "ChannelUnavailable",
    "InboundFragment",
    "InboundReply",
    "Part",
    "Receipt",
    "SentPart",
    "SubmitOutcome",
]


class ChannelUnavailable(HongyanError):
    """The channel cannot take submits now (down, not bound)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One part of one message, as a channel submits it."""

    message_id: int
    seq: int  # 1-based
    total: int
    destination: str
    source: str  # the whole gateway number: gateway prefix + account extension code + mid
    text: str
    extension: str = ""  # the account's extension code + mid, without the gateway prefix


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    upstream_id: str | None = None
    error: str = ""  # the upstream's code, e.g. "THROTTLED", "ESME_RINVDSTADR"
    temporary: bool = False

    @property
    def accepted(self) -> bool:
        return self.upstream_id is not None


@dataclass(slots=True)
class ChannelStatus:
    name: str
    kind: str
    state: ChannelState
    tps: float | None
    submitted: int = 0
    last_error: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    paces_itself: bool = False
    binds: list[BindStatus] = field(default_factory=list)  # one per connection


class ChannelSink(Protocol):
    """Where a channel hands what comes back; both return once committed."""

    async def receipt(self, channel: str, receipt: Receipt) -> None: ...

    async def reply(self, channel: str, reply: InboundReply) -> None: ...

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None: ...


class Channel(Protocol):
    name: str
    # Whose receipts this channel's receipts may be: channels bound to one
    # upstream account share it (an SMSC sends a receipt over any bind of the
    # account), so a part is found whichever of them submitted it.
    receipt_scope: str
    may_send: Callable[[], bool]

    async def start(self, sink: ChannelSink) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, parts: Sequence[Part]) -> list[SubmitOutcome]: ...

    async def resume(self, parts: Sequence[SentPart]) -> None: ...

    def segments(self, text: str) -> list[str]: ...

    def status(self) -> ChannelStatus: ...


def always() -> bool:
    """`may_send` of a channel no lease governs (a node alone)."""
    return True
