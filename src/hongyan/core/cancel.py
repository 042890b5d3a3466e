"""Cancelling a scheduled send: which of its messages may still be stopped,
and what goes back (issue 12, "Scheduled sends").

A message may be cancelled while no dispatcher has it: still queued, not
under a dispatcher's lease, and no part of it accepted upstream (a message
retried after a partial submit has parts out: those are paid for). A
cancelled message ends failed with `Status.CANCELLED`, gets its status
report like any final message, and every part charged for it goes back,
whatever the account's refund-on-failure setting: it was never sent. The
refunds of one cancellation are one ledger entry.

The store applies this in one transaction, with the messages locked, so a
dispatcher claiming the same messages either takes them first (they stay
its own) or finds them final.
"""

from __future__ import annotations

from dataclasses import dataclass

from hongyan.core.states import MessageState, Status

STATUS = Status.CANCELLED
FINAL_STATE = MessageState.FAILED
LEDGER_NOTE = "cancelled"


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What one cancellation did."""

    messages: int
    refunded: int  # parts given back
    balance_after: int


def may_cancel(state: str, lease_until: int | None, parts_submitted: bool) -> bool:
    """Whether a message can still be stopped: no dispatcher has it or had it upstream."""
    return state == MessageState.QUEUED and lease_until is None and not parts_submitted


def refund(charged: int) -> int:
    """Parts a cancelled message gives back: all it was charged."""
    return charged
