"""One message's whole life, as a list of events in time order: accepted,
charged, each part submitted (channel, the carrier's id) and its receipt
(with what the status means, core/receipt_codes.py), final, refunded, its
report written, then handed out by /st/, pushed, waiting to be pushed
again, or given up and returned to /st/.

Only what is stored is told, with the time it was stored with:
- claims: the platform keeps how many times the message was claimed for a
  submit (`attempts`) and, while one holds it, until when (`claimed_until`),
  not when each claim was; they are facts of the message, not events;
- receipts: the first final receipt of each part (a duplicate changes
  nothing and is not kept);
- pushes: a pushed report's time, not how many tries it took (its outbox
  row leaves when pushed); a waiting or given-up one's tries, last error
  and last try (its outbox row stays).
Reading is open to every role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hongyan.core.receipt_codes import Explanation, explain
from hongyan.core.states import MessageState, OutboxState
from hongyan.store import message_life as store
from hongyan.store.database import Database
from hongyan.store.message_life import LifeFacts


class EventKind(StrEnum):
    ACCEPTED = "accepted"  # the request was accepted (and the message stored)
    CHARGED = "charged"  # the request's ledger entry
    SUBMITTED = "submitted"  # a part accepted upstream
    RECEIPT = "receipt"  # a part's receipt
    FINAL = "final"  # the message's final status
    REFUNDED = "refunded"  # parts given back (ledger entry)
    REPORT = "report_written"  # the status report written for the customer
    FETCHED = "fetched"  # the report handed out by /st/
    PUSHED = "pushed"  # the report pushed to the customer's URL
    PUSH_WAITING = "push_waiting"  # in the push outbox: not pushed yet, or retrying
    PUSH_GIVEN_UP = "push_given_up"  # the push gave up; the report went back to /st/


# Events at the same millisecond, in the order they happen.
_ORDER = {kind: rank for rank, kind in enumerate(EventKind)}


@dataclass(frozen=True, slots=True)
class Event:
    at: int  # epoch ms
    kind: EventKind
    status: str = ""
    explanation: Explanation | None = None  # RECEIPT, FINAL
    seq: int | None = None  # SUBMITTED, RECEIPT: the part, from 1
    channel: str = ""
    upstream_id: str = ""  # the carrier's id of the part
    parts: int | None = None  # CHARGED: this message's parts; REFUNDED: parts given back
    delta: int | None = None  # CHARGED, REFUNDED: the ledger entry's (a charge: the request's)
    balance_after: int | None = None
    note: str = ""
    attempts: int | None = None  # PUSH_WAITING, PUSH_GIVEN_UP: tries so far
    error: str = ""  # PUSH_WAITING, PUSH_GIVEN_UP: the last try's
    next_at: int | None = None  # PUSH_WAITING: when it is tried next


@dataclass(frozen=True, slots=True)
class MessageLife:
    id: int
    uid: str
    account_id: int
    submission_id: int  # the batch
    mobile: str
    mobileid: str
    content: str
    source: str  # the extension the message was sent from
    parts: int
    charged: int  # parts charged for it (0: refused at acceptance)
    state: str  # a MessageState
    status: str
    explanation: Explanation | None  # None until final ("0" is no carrier's code)
    created_at: int
    due_at: int  # later than created_at for a scheduled send
    done_at: int | None
    attempts: int  # claims for a submit
    channel: str | None  # the latest attempt's channel
    claimed_until: int | None  # a dispatcher holds it until then
    events: tuple[Event, ...]

    @property
    def final(self) -> bool:
        return MessageState(self.state).final


def events(facts: LifeFacts) -> list[Event]:
    d = facts.detail
    m = d.message
    found = [Event(m.created_at, EventKind.ACCEPTED, parts=m.parts)]
    if facts.charge is not None and d.charged:
        c = facts.charge
        found.append(
            Event(
                c.created_at,
                EventKind.CHARGED,
                parts=d.charged,
                delta=c.delta,
                balance_after=c.balance_after,
            )
        )
    for p in d.parts:
        found.append(
            Event(
                p.submitted_at,
                EventKind.SUBMITTED,
                seq=p.seq,
                channel=p.channel,
                upstream_id=p.upstream_id,
            )
        )
        if p.done_at is not None:
            found.append(
                Event(
                    p.done_at,
                    EventKind.RECEIPT,
                    status=p.status,
                    explanation=explain(p.status),
                    seq=p.seq,
                    channel=p.channel,
                    upstream_id=p.upstream_id,
                )
            )
    if m.done_at is not None:
        found.append(Event(m.done_at, EventKind.FINAL, m.status, explain(m.status)))
    for r in d.refunds:
        # A failed message's refund is its own; a cancelled batch's is one
        # entry for the batch, of which this message's charge is its part.
        own = r.note.startswith(f"message {m.id}:")
        found.append(
            Event(
                r.created_at,
                EventKind.REFUNDED,
                parts=r.delta if own else d.charged,
                delta=r.delta,
                balance_after=r.balance_after,
                note=r.note,
            )
        )
    found += _reports(facts)
    found.sort(key=lambda e: (e.at, _ORDER[e.kind], e.seq or 0))
    return found


def _reports(facts: LifeFacts) -> list[Event]:
    outbox = {row.item_id: row for row in facts.outbox}
    found = []
    for r in facts.detail.reports:
        found.append(Event(r.created_at, EventKind.REPORT, r.status))
        row = outbox.get(r.id)
        if row is not None and row.state == OutboxState.QUEUED:
            # Marked taken for the push (fetched_at) but not pushed yet.
            found.append(
                Event(
                    row.last_attempt_at or row.created_at,
                    EventKind.PUSH_WAITING,
                    r.status,
                    attempts=row.attempts,
                    error=row.last_error,
                    next_at=row.next_at,
                )
            )
            continue
        if row is not None:  # given up: back to /st/, fetched there or not yet
            found.append(
                Event(
                    row.last_attempt_at or row.next_at,
                    EventKind.PUSH_GIVEN_UP,
                    r.status,
                    attempts=row.attempts,
                    error=row.last_error,
                )
            )
        if r.pushed_at is not None:
            found.append(Event(r.pushed_at, EventKind.PUSHED, r.status))
        elif r.fetched_at is not None:
            found.append(Event(r.fetched_at, EventKind.FETCHED, r.status))
    return found


def life(facts: LifeFacts) -> MessageLife:
    d = facts.detail
    m = d.message
    return MessageLife(
        id=m.id,
        uid=facts.uid,
        account_id=facts.account_id,
        submission_id=m.submission_id,
        mobile=m.mobile,
        mobileid=m.mobileid,
        content=m.content,
        source=d.source,
        parts=m.parts,
        charged=d.charged,
        state=facts.state,
        status=m.status,
        explanation=explain(m.status) if MessageState(facts.state).final else None,
        created_at=m.created_at,
        due_at=d.due_at,
        done_at=m.done_at,
        attempts=d.attempts,
        channel=d.channel,
        claimed_until=facts.lease_until,
        events=tuple(events(facts)),
    )


class MessageLives:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def life(self, message_id: int) -> MessageLife | None:
        """The message's whole life; None when there is no such message."""
        found = await self._db.read_sync(lambda conn: store.facts(conn, message_id))
        return None if found is None else life(found)
