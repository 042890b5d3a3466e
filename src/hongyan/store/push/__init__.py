"""The push outbox: where reports and replies wait for the customer's server.

    outbox   the writing side: push targets, and items entering the outbox in
             the transaction that records them (`insert_reports`, `enqueue`)
    queue    the pusher's side: claim under a lease, record outcomes, renew,
             reschedule a host's rows
    status   what waits, per account and kind

A pushed item is marked taken so `/st/` and `/rx/` do not also hand it out;
if pushing gives up, or the account turns push off, it is unmarked and the
pull endpoints hand it out as usual.
"""

from hongyan.store.push.outbox import (
    Target,
    enqueue,
    fall_back,
    insert_reports,
    pushing,
    set_target,
    target,
)
from hongyan.store.push.queue import (
    Claimed,
    ClaimRequest,
    Outcome,
    Renewal,
    Reschedule,
    claim,
    due_exists,
    oldest_queued,
    record,
    renew,
    reschedule,
)
from hongyan.store.push.status import StreamStatus, status

__all__ = [
    "ClaimRequest",
    "Claimed",
    "Outcome",
    "Renewal",
    "Reschedule",
    "StreamStatus",
    "Target",
    "claim",
    "due_exists",
    "enqueue",
    "fall_back",
    "insert_reports",
    "oldest_queued",
    "pushing",
    "record",
    "renew",
    "reschedule",
    "set_target",
    "status",
    "target",
]
