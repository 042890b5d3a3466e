"""How a message ends: the rules the store applies when it records submit
outcomes and receipts, in the transaction that records them.

- After a submit: a part refused for good ends the message with the
  upstream's code; a part not taken for now (throttled, link down) is tried
  again later, until the message's time to live runs out (EXPIRED); once every
  part is accepted the message waits for its receipts.
- A receipt ends its part: delivered when its status is `100`, failed otherwise;
  the first final receipt of a part wins.
- A message is final once each of its parts is: delivered when every part
  was, else failed with the first failed part's status.
- A final failure gives back the parts charged when the account refunds
  failures (PROTOCOL.md "/mt/ send": refund is an account setting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hongyan.core.models import MessageOutcome
from hongyan.core.states import MessageState, PartState, Status


@dataclass(frozen=True, slots=True)
class Ends:
    """The message is final with this status."""

    status: str


@dataclass(frozen=True, slots=True)
class Retry:
    """Some part could not go now: try the missing parts again at `due_at`."""

    due_at: int


@dataclass(frozen=True, slots=True)
class AwaitReceipts:
    """Every part went out: the message waits for its receipts."""


Verdict = Ends | Retry | AwaitReceipts


def after_submit(outcome: MessageOutcome) -> Verdict:
    """What one message's submit outcome makes of it."""
    refused = next((p for p in outcome.parts if p.upstream_id is None and not p.temporary), None)
    if refused is not None:
        return Ends(refused.error or Status.REJECTED)
    if any(p.upstream_id is None for p in outcome.parts):
        if outcome.now >= outcome.expires_at:
            return Ends(Status.EXPIRED)
        return Retry(outcome.retry_at)
    return AwaitReceipts()


def part_state(receipt_status: str) -> PartState:
    """The final state a receipt gives its part."""
    return PartState.DELIVERED if receipt_status == Status.DELIVERED else PartState.FAILED


def message_status(parts: Sequence[tuple[str, str]], total: int) -> str | None:
    """The final status of a message from its parts' (state, status), in part
    order, or None while it is not final (a part is missing or waiting)."""
    if len(parts) < total or any(state == PartState.SENT for state, _ in parts):
        return None
    failed = next((status for state, status in parts if state == PartState.FAILED), None)
    return failed or Status.DELIVERED


def final_state(status: str) -> MessageState:
    return MessageState.DELIVERED if status == Status.DELIVERED else MessageState.FAILED


def may_become_final(state: str) -> bool:
    """A message ends once: only one not final yet takes a final state."""
    return not MessageState(state).final


def refund(status: str, charged: int, *, refund_on_failure: bool) -> int:
    """Parts given back when a message ends with `status`."""
    return charged if status != Status.DELIVERED and refund_on_failure else 0
