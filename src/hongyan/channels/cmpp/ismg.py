"""`hongyan smsc --protocol cmpp2|cmpp3`: a CMPP ISMG (the gateway an SP
connects to) to point the platform at, for demos, tests and staging. The
gateway side of the same codec and session as the channel; the CMPP sibling
of the SMPP simulator in smpp/smsc.py, with the same controls.

A `cmpp3` gateway accepts CONNECT versions 2.0 and 3.0 and then speaks the
client's; a `cmpp2` gateway accepts 2.0 and answers a higher version with
Status 4, in its own 2.0 layout. A CONNECT is checked against `accounts`
(Source_Addr: shared secret, CMPP 3.0 §8.4.1): an unknown Source_Addr is
Status 2, a wrong AuthenticatorSource Status 3, and the connection closes
after a refusal. Any other request before a successful CONNECT closes it too.

Each SUBMIT is decided when it arrives and answered `response_delay_s` later
(0: at once). Its receipt is timed from its arrival, not from the answer: with
a response delay longer than the receipt delay, the status report comes
before the SUBMIT_RESP, as it does from a busy real gateway. A receipt is
DELIVRD, or UNDELIV for the share `failure_ratio`, with the in-process
simulator's test numbers (channels/simulator.py: ending 0000, 0001, 0002);
a destination ending 9999 is refused with Result 13 (3.0, "Dest_terminal_Id
error") or 9 (2.0, whose table stops at 8 and calls 9 and up "other error").

Status reports and replies wait, in memory, until a connection of the same
SP is up and answers DELIVER_RESP Result 0; otherwise they are offered again
a little later, as a real ISMG redelivers (channels/outbox.py). Each goes over
the connection with the most room in its window.

Controls, from tests in the same process (the methods below) or over the HTTP
control port: see `channels/control_port.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from hongyan.channels.cmpp import ismg_pdus
from hongyan.channels.cmpp.codec import MsgId, authenticator_ismg, authenticator_source
from hongyan.channels.cmpp.ismg_records import DELIVERED, SubmitLog, Submitted
from hongyan.channels.cmpp.pdu import (
    V2,
    V3,
    Cancel,
    CancelResp,
    Connect,
    ConnectResp,
    ConnectStatus,
    Deliver,
    DeliverResp,
    Pdu,
    Query,
    QueryResp,
    StatusReport,
    Submit,
    SubmitResp,
    SubmitResult,
)
from hongyan.channels.cmpp.wire import CmppWire, Session
from hongyan.channels.control_port import Misbehaviour, start_control
from hongyan.channels.outbox import Outbox
from hongyan.channels.session import Session as BaseSession
from hongyan.channels.simulator import outcome_of
from hongyan.core.states import Status
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

_OTHER_ERROR = 5  # CONNECT_RESP Status "5~: other error" (CMPP 3.0 §8.4.1)
_NOT_SUPPORTED = 2  # DELIVER_RESP Result "command word error": an SP sends no DELIVER


@dataclass(slots=True)
class Waiting:
    """A status report or reply in the outbox."""

    account: str  # the SP's Source_Addr
    deliver: Deliver  # in its 3.0 form; ismg_pdus.fitted makes each offer
    kind: str  # "receipt" or "mo"
    report: StatusReport | None = None
    about: int = 0  # a receipt's: the Msg_Id of its SUBMIT


async def _offer(session: BaseSession, item: Waiting) -> bool:
    """One DELIVER, in the session's version; True once answered Result 0."""
    version = cast(CmppWire, session.wire).version
    answer = await session.request(ismg_pdus.fitted(item.deliver, item.report, version))
    return isinstance(answer, DeliverResp) and answer.result == 0


class IsmgSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(default=7890, ge=0, le=65535)
    protocol: Literal["cmpp2", "cmpp3"] = "cmpp3"
    # The SP's Source_Addr (its 6-character SP id): the shared secret.
    accounts: dict[str, str] = {"901234": "secret"}
    gateway_code: int = Field(default=10001, ge=0, le=0x3FFFFF)  # Msg_Id bits 38-17
    receipt_delay_min_s: float = Field(default=0.1, ge=0)
    receipt_delay_max_s: float = Field(default=0.5, ge=0)
    failure_ratio: float = Field(default=0.0, ge=0, le=1)
    tps: float | None = Field(default=None, gt=0)  # submits a second before Result 8
    window: int = Field(default=64, ge=1)
    response_delay_s: float = Field(default=0.0, ge=0, le=60)
    response_timeout_s: float = Field(default=10.0, gt=0)  # for a DELIVER_RESP
    active_test_s: float = Field(default=30.0, gt=0)  # idle before an ACTIVE_TEST
    control_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("accounts")
    @classmethod
    def _source_addrs(cls, accounts: dict[str, str]) -> dict[str, str]:
        for sp_id, secret in accounts.items():
            if not (1 <= len(sp_id) <= 6 and sp_id.isascii() and secret.isascii()):
                raise ValueError(f"{sp_id!r}: a Source_Addr is 1 to 6 ASCII characters")
        return accounts


class Ismg(Misbehaviour):
    def __init__(self, settings: IsmgSettings) -> None:
        self.settings = settings
        self.port = settings.port
        self.control_port = settings.control_port
        self.counters: dict[str, int] = {
            "connect_total": 0,
            "connect_refused": 0,
            "submits": 0,
            "throttled": 0,
            "rejected": 0,
            "cancelled": 0,
        }
        self._top = V3 if settings.protocol == "cmpp3" else V2
        self._open: set[Session] = set()  # every connection, CONNECTed or not yet
        self._connections: dict[Session, int] = {}  # CONNECTed ones: their numbers
        self._numbers = itertools.count(1)
        self._sequence = itertools.count(1)  # Msg_Id's 16-bit sequence
        self._smsc_sequence = itertools.count(1)
        self._references = itertools.count(1)
        self._log = SubmitLog()
        self._response_delay_s = settings.response_delay_s
        self._outbox: Outbox[Waiting] = Outbox(lambda: self._connections, _offer, self._spawn)
        self._server: asyncio.Server | None = None
        self._control: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._throttled_until = 0.0
        self._window_start = 0.0
        self._window_count = 0

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_session, s.host, s.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._pump = asyncio.create_task(self._outbox.run(), name="ismg-outbox")
        if s.control_port is not None:
            self._control, self.control_port = await start_control(self, s.control_port)

    def _new_session(self) -> Session:
        s = self.settings
        session = Session(
            "ismg",
            self._handle,
            version=self._top,
            window=s.window,
            response_timeout_s=s.response_timeout_s,
            enquire_link_s=s.active_test_s,
        )
        self._open.add(session)
        self._spawn(self._forget_when_closed(session))
        return session

    async def stop(self) -> None:
        await cancel(self._pump)
        await cancel(*self._tasks)
        if self._control is not None:
            await self._control.cleanup()
        if self._server is not None:
            self._server.close()
        self.drop()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- controls ------------------------------------------------------------------------

    def _held_sessions(self) -> list[Session]:
        return list(self._open)

    def inject_mo(
        self,
        source: str,
        destination: str,
        text: str,
        parts: int = 1,
        split: Literal["udh8", "sar"] = "udh8",
        sp_id: str = "",
    ) -> None:
        """A handset's reply from `source` to `destination` (the SP's access
        number and extension), in `parts` parts (at least as many as it needs)."""
        if split != "udh8":
            raise ValueError("CMPP joins the parts of a reply by UDH only")
        if not (source.isascii() and destination.isascii()):
            raise ValueError("numbers are ASCII")
        if len(source) > 32 or len(destination) > 21:
            raise ValueError("source: at most 32 digits, destination: at most 21")
        sp_id = sp_id or next(iter(self.settings.accounts))
        reference = next(self._references) & 0xFF
        msg_ids = (self._msg_id(datetime.now()) for _ in itertools.count())
        for pdu in ismg_pdus.mo_parts(source, destination, text, parts, reference, msg_ids):
            self._outbox.put(Waiting(sp_id, pdu, "mo"))

    @property
    def submits(self) -> list[Submitted]:
        """Every accepted SUBMIT, in order."""
        return self._log.records

    def stats(self) -> dict[str, int]:
        return {
            **self.counters,
            "receipts_acked": self._outbox.count("receipt_acked"),
            "mo_acked": self._outbox.count("mo_acked"),
            # offers not answered Result 0 (each is made again later)
            "redelivered": self._outbox.count("receipt_refused") + self._outbox.count("mo_refused"),
            "connections": len(self._connections),
            "receipts_pending": self._outbox.pending("receipt"),
            "mo_pending": self._outbox.pending("mo"),
        }

    # -- requests from SPs ----------------------------------------------------------------

    async def _handle(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, Connect):
            return self._connect(session, pdu)
        if session not in self._connections:
            log.info("cmpp request before CONNECT: closing", extra={"session": session.name})
            session.close()
            return None
        if isinstance(pdu, Submit):
            answer = self._submit(session, pdu)
            if self._response_delay_s:
                # Each request is served in a task of its own (session.py), so
                # held answers overlap as a distant gateway's do.
                await asyncio.sleep(self._response_delay_s)
                while (left := session.hung_s) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(left)  # frozen meanwhile: silent means silent
            return answer
        if isinstance(pdu, Query):
            return self._query(session, pdu)
        if isinstance(pdu, Cancel):
            return CancelResp(success_id=self._cancel(session, pdu.msg_id))
        if isinstance(pdu, Deliver):
            return DeliverResp(msg_id=pdu.msg_id, result=_NOT_SUPPORTED)
        return None

    def _connect(self, session: Session, pdu: Connect) -> Pdu | None:
        again = session in self._connections  # a second CONNECT changes nothing
        version, status = self._agree(pdu.version)
        secret = self.settings.accounts.get(pdu.source_addr)
        if again:
            status = status or _OTHER_ERROR
        elif secret is None:
            status = status or ConnectStatus.BAD_SOURCE_ADDR
        elif not hmac.compare_digest(
            authenticator_source(pdu.source_addr, secret, pdu.timestamp), pdu.authenticator_source
        ):
            status = status or ConnectStatus.AUTH_FAILED
        if not again:
            session.wire.version = version
        answer = ConnectResp(sequence=pdu.sequence, status=status, version=self._top)
        if status:
            self.counters["connect_refused"] += 1
            log.info(
                "cmpp connect refused",
                extra={"sp_id": pdu.source_addr, "status": status, "version": pdu.version},
            )
            if again:
                return answer
            session.send(answer)
            session.close()  # after the answer: the transport writes it first
            return None
        assert secret is not None
        answer.authenticator_ismg = authenticator_ismg(0, pdu.authenticator_source, secret, version)
        self._connections[session] = next(self._numbers)
        session.bound = True  # ACTIVE_TEST when idle
        session.system_id = pdu.source_addr
        self.counters["connect_total"] += 1
        self._outbox.wake()
        return answer

    def _agree(self, requested: int) -> tuple[int, int]:
        """The version to speak and a CONNECT_RESP Status for the client's
        Version (the major number in the high nibble; 3.0 §8.4.1)."""
        major = requested & 0xF0
        if major > self._top:
            return self._top, ConnectStatus.VERSION_TOO_HIGH
        if major < V2:
            return V2, _OTHER_ERROR
        return major, 0

    async def _forget_when_closed(self, session: Session) -> None:
        await session.wait_closed()
        self._open.discard(session)
        self._connections.pop(session, None)

    def _submit(self, session: Session, pdu: Submit) -> SubmitResp:
        version = session.wire.version
        result = self._refusal(pdu, version)
        if result:
            kind = "throttled" if result == SubmitResult.FLOW_CONTROL else "rejected"
            self.counters[kind] += 1
            return SubmitResp(result=result)
        at = datetime.now()  # Msg_Id and report times are the gateway's local time
        msg_id = self._msg_id(at)
        s = self.settings
        delay = random.uniform(
            s.receipt_delay_min_s, max(s.receipt_delay_min_s, s.receipt_delay_max_s)
        )
        done = at + timedelta(seconds=delay)
        outcomes = []
        for destination in pdu.dest_terminal_ids:
            status = outcome_of(destination, f"{msg_id}:{destination}", s.failure_ratio)
            outcomes.append(DELIVERED if status == Status.DELIVERED else status)
        connection = self._connections.get(session, 0)
        record = Submitted.of(pdu, msg_id, session.system_id, outcomes, connection, version)
        self._log.add(record, time.monotonic() + delay)
        self.counters["submits"] += 1
        if pdu.registered_delivery == 1:
            for destination, stat in zip(pdu.dest_terminal_ids, outcomes, strict=True):
                report = StatusReport(
                    msg_id=msg_id,
                    stat=stat,
                    submit_time=ismg_pdus.stamp(at),
                    done_time=ismg_pdus.stamp(done),
                    dest_terminal_id=destination,
                    smsc_sequence=next(self._smsc_sequence) & 0xFFFFFFFF,
                )
                deliver = ismg_pdus.receipt(
                    self._msg_id(done), pdu.src_id, pdu.service_id, destination
                )
                item = Waiting(session.system_id, deliver, "receipt", report, msg_id)
                # From the arrival, not the answer: a report may beat its SUBMIT_RESP.
                self._outbox.put(item, delay)
        return SubmitResp(msg_id=msg_id)

    def _refusal(self, pdu: Submit, version: int) -> int:
        now = time.monotonic()
        if now < self._throttled_until:
            return SubmitResult.FLOW_CONTROL
        if self.settings.tps:
            if now - self._window_start >= 1.0:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            if self._window_count > self.settings.tps:
                return SubmitResult.FLOW_CONTROL
        if not pdu.dest_terminal_ids or any(d.endswith("9999") for d in pdu.dest_terminal_ids):
            # 3.0 §8.4.3 has "Dest_terminal_Id error"; 2.0's table ends at 8,
            # "9 and up: other error".
            return SubmitResult.BAD_DEST_TERMINAL if version >= V3 else 9
        return 0

    def _msg_id(self, at: datetime) -> int:
        return MsgId.make(at, self.settings.gateway_code, next(self._sequence)).value

    def _query(self, session: Session, pdu: Query) -> QueryResp:
        """The SP's totals since start (the date asked is not kept apart), or
        one service's (Query_Type 1, Query_Code its Service_Id)."""
        sp_id = session.system_id
        service = pdu.query_code if pdu.query_type == 1 else None
        mt = self._log.totals(sp_id, service, time.monotonic())
        return QueryResp(
            time=pdu.time,
            query_type=pdu.query_type,
            query_code=pdu.query_code,
            mt_tlmsg=mt.messages,
            mt_tlusr=mt.users,
            mt_scs=mt.delivered,
            mt_wt=mt.waiting,
            mt_fl=mt.failed,
            mo_scs=self._outbox.tally[sp_id, "mo_acked"],
            mo_wt=self._outbox.pending("mo", sp_id),
            mo_fl=self._outbox.tally[sp_id, "mo_refused"],
        )

    def _cancel(self, session: Session, msg_id: int) -> int:
        """Success_Id 0 if the message was still on its way, else 1."""
        if not self._log.cancel(session.system_id, msg_id, time.monotonic()):
            return 1
        self._outbox.withdraw(lambda w: w.about == msg_id)  # its status reports
        self.counters["cancelled"] += 1
        return 0

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # a reference, so the task is not collected
        task.add_done_callback(self._tasks.discard)
