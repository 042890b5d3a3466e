"""Whether a checked /mt/ request is accepted, and what it is charged
(PROTOCOL.md "/mt/ send": 107, 110, 112, 102).

A pure decision over the account's state as the store read it, locked, in the
transaction that will write the outcome: the store applies it there, so the
balance, the request rate and the per-number history are decided against
committed state and written atomically with the messages and the charge.
Requests of one transaction are decided one after another, each against the
state the one before left (`AccountState` is updated in place).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hongyan.core.limits import Bucket, within_windows
from hongyan.core.models import Submission
from hongyan.core.states import Status
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat

# Accepted sends per (account id, number) within the longest per-number window.
History = dict[tuple[int, str], list[int]]


@dataclass(slots=True)
class AccountState:
    """What acceptance reads and changes of one account."""

    balance: int
    sent_total: int
    bucket: Bucket  # the request-rate token bucket
    changed: bool = False


@dataclass(slots=True)
class Plan:
    """What one accepted submission writes."""

    submission: Submission
    charged: int
    balance_after: int
    refused: list[tuple[int, str]] = field(default_factory=list)  # recipient index, status


def decide(submission: Submission, state: AccountState, history: History) -> Plan | Rejected:
    """Accept (a plan to write) or refuse one request; `state` and `history`
    are updated with what an acceptance takes, so the next request sees it.

    In order: the request rate (107); each number, invalid ones (112) and
    those over the per-number limits (110) refused one by one with a failed
    report; none left is 110 or 112 for the whole request; then the balance
    for the rest (102: nothing charged or stored)."""
    account, now = submission.account, submission.created_at
    if account.rate_limit:
        allowed, state.bucket = state.bucket.take(account.rate_limit, now)
        state.changed = True
        if not allowed:
            return Rejected(Stat.RATE_LIMITED)
    refused: list[tuple[int, str]] = []
    taken: dict[str, list[int]] = {}
    for index, recipient in enumerate(submission.recipients):
        if recipient.number is None:
            refused.append((index, Status.BAD_NUMBER))
            continue
        if account.per_number:
            key = (account.id, recipient.number)
            sends = taken.get(recipient.number) or list(history.get(key, ()))
            if not within_windows(sends, now, account.per_number):
                refused.append((index, Status.PER_NUMBER_LIMITED))
                continue
            sends.append(now)
            taken[recipient.number] = sends
    sendable = len(submission.recipients) - len(refused)
    if sendable == 0:
        limited = any(status == Status.PER_NUMBER_LIMITED for _, status in refused)
        return Rejected(Stat.PER_NUMBER_LIMITED if limited else Stat.BAD_NUMBER)
    cost = sendable * submission.parts
    if state.balance < cost:
        return Rejected(Stat.INSUFFICIENT_BALANCE)
    state.balance -= cost
    state.sent_total += cost
    state.changed = True
    for number, sends in taken.items():
        history[(account.id, number)] = sends
    return Plan(submission, cost, state.balance, refused)
