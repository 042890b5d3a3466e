"""Putting long replies back together (UDH or SAR parts, SMPP 3.4 §5.3.2.22-24,
3GPP TS 23.040 §9.2.3.24.1): what a newly arrived part does to the parts kept
under its (channel, number, reference).

Parts of a reply have been acknowledged upstream, so none is ever dropped:
parts that cannot belong with the new one are recorded first as the reply
they make, as far as they go. A part the carrier offers again (its
acknowledgement was lost) changes nothing, whether its reply is still waiting
or was recorded less than the wait ago; the store keeps a recorded reply's
parts that long to know them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple

from hongyan.core.models import InboundFragment


class Kept(NamedTuple):
    """A part kept under the same reference."""

    seq: int
    total: int
    content: str
    received_at: int
    completed_at: int | None  # when the reply it belongs to was recorded


class Step(Enum):
    IGNORE = "ignore"  # offered again: nothing to do
    FORGET_RECORDED = "forget"  # a new reply under a recorded one's reference: drop the old rows
    RECORD_KEPT_FIRST = "record"  # the waiting parts are another reply's: record them first
    KEEP = "keep"  # one more part of the waiting reply (or the first)


def on_part(kept: Sequence[Kept], part: InboundFragment, wait_ms: int) -> Step:
    """What to do with the parts kept under `part`'s reference, before keeping it."""
    same = next((k for k in kept if k.seq == part.seq), None)
    offered_again = same is not None and same.content == part.text and same.total == part.total
    recorded = next((k.completed_at for k in kept if k.completed_at is not None), None)
    if recorded is not None:
        if offered_again and part.at - recorded <= wait_ms:
            return Step.IGNORE
        return Step.FORGET_RECORDED
    if not kept:
        return Step.KEEP
    fresh = all(k.received_at >= part.at - wait_ms for k in kept)
    if offered_again and fresh:
        return Step.IGNORE
    if same is not None or not fresh or any(k.total != part.total for k in kept):
        # The reference is taken again: a part seen before with other text,
        # parts older than the wait, or another part count.
        return Step.RECORD_KEPT_FIRST
    return Step.KEEP


def is_whole(have: int, total: int) -> bool:
    return have >= total


def joined(parts: Sequence[tuple[int, str]]) -> str:
    """The reply's text from its (seq, text) parts, in part order."""
    return "".join(text for _, text in sorted(parts))
