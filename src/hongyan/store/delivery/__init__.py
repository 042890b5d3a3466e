"""Delivery state: claiming due messages, recording submits, receipts, finals.

    claims     claim due messages under a lease, renew it; what waits
    outcomes   record what came of submits
    receipts   apply delivery receipts; keep the ones that come early
    finals     make messages final, once each, with report and refund

The rules that keep "exactly one final state and one report per message"
true through crashes and duplicates:

- A message is claimed under a lease (`lease_until`); a dispatcher that dies
  leaves the lease to expire and the message is claimed again. Parts already
  accepted upstream are recorded in `message_parts` and never submitted
  again; only the missing ones are.
- A receipt finds its part by (channel, upstream id). One that finds none is
  kept in `early_receipts` and applied when the submit outcome is recorded.
  A receipt for a part already final changes nothing.
- A message becomes final once, when every part is final (or one part is
  refused for good, or it expires): the state changes only from a non-final
  one, in the same transaction as its report and refund.

What a message's parts make of it is decided in `core.finals`; this package
reads and writes.
"""

from hongyan.store.delivery.claims import (
    ClaimRequest,
    LeaseRenewal,
    claim,
    queue_depth,
    renew_leases,
    sent_parts,
)
from hongyan.store.delivery.outcomes import record_outcomes
from hongyan.store.delivery.receipts import prune_early_receipts, record_receipts

__all__ = [
    "ClaimRequest",
    "LeaseRenewal",
    "claim",
    "prune_early_receipts",
    "queue_depth",
    "record_outcomes",
    "record_receipts",
    "renew_leases",
    "sent_parts",
]
