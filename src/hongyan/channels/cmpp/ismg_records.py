"""The ISMG simulator's record of accepted SUBMITs: what the control port
lists (GET /submits), and what QUERY and CANCEL read. No I/O.

A message is "on its way" until its receipt is due (the moment its handset
has it, whether or not the status report has reached the SP yet): CANCEL
succeeds only meanwhile, and QUERY counts it as waiting (CMPP 3.0 §8.4.4, §8.4.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from hongyan.channels.cmpp.pdu import Submit

DELIVERED = "DELIVRD"


@dataclass(slots=True)
class Submitted:
    msg_id: str  # decimal, as the SP stores it
    sp_id: str
    src_id: str
    service_id: str
    dest_ids: list[str]
    msg_fmt: int
    tp_udhi: int
    pk_total: int
    pk_number: int
    content: str  # hex of Msg_Content
    registered_delivery: int
    fee_user_type: int
    fee_terminal_id: str
    fee_type: str
    fee_code: str
    msg_src: str
    link_id: str
    outcomes: list[str]  # the Stat each destination gets, in dest_ids order
    connection: int  # the connection it came over: 1 for the first CONNECT accepted
    version: int
    cancelled: bool = False

    @classmethod
    def of(
        cls,
        pdu: Submit,
        msg_id: int,
        sp_id: str,
        outcomes: list[str],
        connection: int,
        version: int,
    ) -> Submitted:
        return cls(
            msg_id=str(msg_id),
            sp_id=sp_id,
            src_id=pdu.src_id,
            service_id=pdu.service_id,
            dest_ids=list(pdu.dest_terminal_ids),
            msg_fmt=pdu.msg_fmt,
            tp_udhi=pdu.tp_udhi,
            pk_total=pdu.pk_total,
            pk_number=pdu.pk_number,
            content=pdu.msg_content.hex(),
            registered_delivery=pdu.registered_delivery,
            fee_user_type=pdu.fee_user_type,
            fee_terminal_id=pdu.fee_terminal_id,
            fee_type=pdu.fee_type,
            fee_code=pdu.fee_code,
            msg_src=pdu.msg_src,
            link_id=pdu.link_id,
            outcomes=outcomes,
            connection=connection,
            version=version,
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """QUERY_RESP's MT counts: messages, numbers, delivered, waiting, failed."""

    messages: int
    users: int
    delivered: int
    waiting: int
    failed: int


class SubmitLog:
    def __init__(self) -> None:
        self.records: list[Submitted] = []
        self._by_id: dict[int, Submitted] = {}
        self._done_at: dict[int, float] = {}  # Msg_Id: when the handset has it (monotonic)

    def add(self, record: Submitted, done_at: float) -> None:
        self.records.append(record)
        self._by_id[int(record.msg_id)] = record
        self._done_at[int(record.msg_id)] = done_at

    def cancel(self, sp_id: str, msg_id: int, now: float) -> bool:
        """Cancel an SP's message still on its way; False if there is none."""
        record = self._by_id.get(msg_id)
        if record is None or record.sp_id != sp_id or record.cancelled:
            return False
        if self._done_at[msg_id] <= now:
            return False
        record.cancelled = True
        return True

    def totals(self, sp_id: str, service_id: str | None, now: float) -> Totals:
        """An SP's counts since start, or one service's."""
        mine = [r for r in self.records if r.sp_id == sp_id and service_id in (None, r.service_id)]
        live = [r for r in mine if not r.cancelled]  # a cancelled one is in no later count
        done = [r for r in live if self._done_at[int(r.msg_id)] <= now]
        delivered = sum(r.outcomes.count(DELIVERED) for r in done)
        return Totals(
            messages=len(mine),
            users=len({d for r in mine for d in r.dest_ids}),
            delivered=delivered,
            waiting=sum(len(r.dest_ids) for r in live) - sum(len(r.dest_ids) for r in done),
            failed=sum(len(r.dest_ids) for r in done) - delivered,
        )
