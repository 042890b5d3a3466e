"""`hongyan smsc`: an SMPP 3.4 SMSC to point the platform at, for demos,
tests, benchmarks and operators' own staging. The SMSC side of the same
codec and session as the channel.

It accepts binds with the configured credentials, answers submit_sm and
data_sm with an id (hex or decimal), and sends a delivery receipt after a
random delay in [receipt_delay_min_s, receipt_delay_max_s]: DELIVRD, or
UNDELIV for the share `failure_ratio` (decided by the id's hash, so reruns
agree) and for the simulator's test numbers (ending 0000, 0001, 0002). A
destination ending in 9999 is refused with ESME_RINVDSTADR. Receipts and
replies wait, in memory, until a receiver of the same system_id is bound and
acknowledges them, as a real SMSC keeps them for an ESME that is away.

Each submit is decided when it arrives and answered `response_delay_s` later
(0: at once), as a carrier far away or under load answers: then an ESME's
throughput is bounded by its windows, which is what extra binds are for. Each
accepted submit records `bind`, the number of the session it came over (1 for
the first bind made), so a test can see how an ESME spreads its load.

Controls, from tests in the same process (the methods below) or over the HTTP
control port: see `channels/control_port.py`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from hongyan.channels.control_port import Misbehaviour, start_control
from hongyan.channels.outbox import Outbox
from hongyan.channels.session import Session as BaseSession
from hongyan.channels.simulator import outcome_of
from hongyan.channels.smpp.constants import (
    CommandId,
    CommandStatus,
    Tag,
)
from hongyan.channels.smpp.pdu import (
    Bind,
    BindReceiver,
    BindTransmitter,
    DataSm,
    DataSmResp,
    DeliverSm,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    read_int,
    response_to,
    tlv_int,
)
from hongyan.channels.smpp.session import Session
from hongyan.channels.smpp.smsc_pdus import WORD_STATES, mo_parts, receipt_for
from hongyan.core.states import Status
from hongyan.tasks import cancel

log = logging.getLogger(__name__)


class SmscSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(default=2775, ge=0, le=65535)
    accounts: dict[str, str] = {"hongyan": "secret"}  # system_id: password
    receipt_delay_min_s: float = Field(default=0.1, ge=0)
    receipt_delay_max_s: float = Field(default=0.5, ge=0)
    failure_ratio: float = Field(default=0.0, ge=0, le=1)
    tps: float | None = Field(default=None, gt=0)  # submits a second before THROTTLED
    id_base: Literal["hex", "dec"] = "hex"
    receipt_id_base: Literal["hex", "dec"] = "hex"
    receipt_tlvs: bool = True
    window: int = Field(default=64, ge=1)
    response_delay_s: float = Field(default=0.0, ge=0, le=60)
    control_port: int | None = Field(default=None, ge=0, le=65535)
    # An ESME silent this long is probed with enquire_link; one that does not
    # answer (a frozen process) loses its bind, as at a real SMSC.
    enquire_link_s: float = Field(default=30.0, gt=0)


@dataclass(slots=True)
class Submitted:
    id: str
    system_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    short_message: str  # hex
    payload: str  # hex of message_payload, or ""
    sar: tuple[int, int, int] | None
    stat: str
    bind: int  # the session it came over: 1 for the first bind made


@dataclass(slots=True)
class _Outbound:
    account: str  # the system_id it is for
    pdu: DeliverSm
    kind: str  # "receipt" or "mo"


async def _offer(session: BaseSession, item: _Outbound) -> bool:
    """One deliver_sm; True once answered without error."""
    answer = await session.request(item.pdu)
    return bool(answer.command_id == CommandId.DELIVER_SM_RESP and answer.status == 0)


class Smsc(Misbehaviour):
    def __init__(self, settings: SmscSettings) -> None:
        self.settings = settings
        self.port = settings.port
        self.control_port = settings.control_port
        self.submits: list[Submitted] = []
        self.counters: dict[str, int] = {
            "bind_total": 0,
            "bind_refused": 0,
            "submits": 0,
            "throttled": 0,
            "rejected": 0,
        }
        self._ids = itertools.count(1)
        self._sessions: dict[Session, str] = {}  # bound session: "trx" | "tx" | "rx"
        self._bind_numbers: dict[Session, int] = {}
        self._binds_made = itertools.count(1)
        self._response_delay_s = settings.response_delay_s
        self._outbox: Outbox[_Outbound] = Outbox(self._receivers, _offer, self._spawn)
        self._server: asyncio.Server | None = None
        self._control: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._throttled_until = 0.0
        self._window_start = 0.0
        self._window_count = 0
        self._references = itertools.count(1)
        # What a carrier enforces on an account, measured: the most binds at
        # once, and the most submits within any one second (sliding).
        self._binds_peak = 0
        self._recent: collections.deque[float] = collections.deque()
        self._submits_peak_s = 0

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(
                "smsc",
                self._handle,
                window=self.settings.window,
                enquire_link_s=self.settings.enquire_link_s,
                response_timeout_s=min(10.0, self.settings.enquire_link_s),
            ),
            self.settings.host,
            self.settings.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._pump = asyncio.create_task(self._outbox.run(), name="smsc-outbound")
        if self.settings.control_port is not None:
            self._control, self.control_port = await start_control(self, self.settings.control_port)

    async def stop(self) -> None:
        await cancel(self._pump)
        if self._control is not None:
            await self._control.cleanup()
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.abort()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- controls ------------------------------------------------------------------------

    def _held_sessions(self) -> list[Session]:
        return list(self._sessions)

    def inject_mo(
        self,
        source: str,
        destination: str,
        content: str,
        parts: int = 1,
        split: Literal["udh8", "sar"] = "udh8",
        system_id: str = "",
    ) -> None:
        """A handset's reply, in `parts` parts (at least as many as it needs)."""
        system_id = system_id or next(iter(self.settings.accounts))
        reference = next(self._references) & 0xFF
        for pdu in mo_parts(source, destination, content, parts, split, reference):
            self._outbox.put(_Outbound(system_id, pdu, "mo"))

    def stats(self) -> dict[str, int]:
        return {
            **self.counters,
            "binds": len(self._sessions),
            "binds_peak": self._binds_peak,
            "submits_peak_second": self._submits_peak_s,
            "receipts_acked": self._outbox.count("receipt_acked"),
            "mo_acked": self._outbox.count("mo_acked"),
            "redelivered": self._outbox.count("receipt_refused") + self._outbox.count("mo_refused"),
            "receipts_pending": self._outbox.pending("receipt"),
            "mo_pending": self._outbox.pending("mo"),
        }

    # -- requests from ESMEs ----------------------------------------------------------------

    async def _handle(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, Bind):
            return self._bind(session, pdu)
        mode = self._sessions.get(session)
        if mode is None:
            return response_to(pdu.command_id, pdu.sequence, CommandStatus.ESME_RINVBNDSTS)
        if isinstance(pdu, SubmitSm | DataSm):
            if mode == "rx":
                return response_to(pdu.command_id, pdu.sequence, CommandStatus.ESME_RINVBNDSTS)
            answer = self._submit(session, pdu)
            if self._response_delay_s:
                # Each request is served in a task of its own (session.py), so
                # held answers overlap as a distant carrier's do.
                await asyncio.sleep(self._response_delay_s)
                while (left := session.hung_s) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(left)  # frozen meanwhile: silent means silent
            return answer
        if isinstance(pdu, QuerySm):
            found = next((s for s in self.submits if s.id == pdu.message_id), None)
            if found is None:
                return QuerySmResp(status=CommandStatus.ESME_RQUERYFAIL)
            return QuerySmResp(message_id=found.id, message_state=WORD_STATES[found.stat])
        return response_to(pdu.command_id, pdu.sequence, CommandStatus.ESME_RINVCMDID)

    def _bind(self, session: Session, pdu: Bind) -> Pdu:
        answer = response_to(pdu.command_id, pdu.sequence)
        if session in self._sessions:
            answer.status = CommandStatus.ESME_RALYBND
        elif pdu.system_id not in self.settings.accounts:
            answer.status = CommandStatus.ESME_RINVSYSID
        elif self.settings.accounts[pdu.system_id] != pdu.password:
            answer.status = CommandStatus.ESME_RINVPASWD
        if answer.status:
            self.counters["bind_refused"] += 1
            return answer
        mode = (
            "tx"
            if isinstance(pdu, BindTransmitter)
            else "rx"
            if isinstance(pdu, BindReceiver)
            else "trx"
        )
        self._sessions[session] = mode
        self._binds_peak = max(self._binds_peak, len(self._sessions))
        self._bind_numbers[session] = next(self._binds_made)
        session.bound = True
        session.system_id = pdu.system_id
        self._spawn(self._forget_when_closed(session))
        self.counters["bind_total"] += 1
        answer.tlvs[Tag.SC_INTERFACE_VERSION] = tlv_int(0x34, 1)
        answer.system_id = "hongyan-smsc"  # type: ignore[attr-defined]
        self._outbox.wake()
        return answer

    async def _forget_when_closed(self, session: Session) -> None:
        await session.wait_closed()
        self._sessions.pop(session, None)
        self._bind_numbers.pop(session, None)

    def _submit(self, session: Session, pdu: SubmitSm | DataSm) -> Pdu:
        now = time.monotonic()
        self._recent.append(now)
        while self._recent[0] <= now - 1.0:
            self._recent.popleft()
        self._submits_peak_s = max(self._submits_peak_s, len(self._recent))
        refuse = 0
        if now < self._throttled_until:
            refuse = CommandStatus.ESME_RTHROTTLED
        elif self.settings.tps:
            if now - self._window_start >= 1.0:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            if self._window_count > self.settings.tps:
                refuse = CommandStatus.ESME_RTHROTTLED
        if not refuse and (not pdu.destination_addr or pdu.destination_addr.endswith("9999")):
            refuse = CommandStatus.ESME_RINVDSTADR
        if refuse:
            self.counters[
                "throttled" if refuse == CommandStatus.ESME_RTHROTTLED else "rejected"
            ] += 1
            return response_to(pdu.command_id, pdu.sequence, refuse)
        number = next(self._ids)
        message_id = _format_id(number, self.settings.id_base)
        status = outcome_of(pdu.destination_addr, message_id, self.settings.failure_ratio)
        word = "DELIVRD" if status == Status.DELIVERED else status
        sar = None
        if Tag.SAR_MSG_REF_NUM in pdu.tlvs:
            sar = (
                read_int(pdu.tlvs, Tag.SAR_MSG_REF_NUM) or 0,
                read_int(pdu.tlvs, Tag.SAR_TOTAL_SEGMENTS) or 0,
                read_int(pdu.tlvs, Tag.SAR_SEGMENT_SEQNUM) or 0,
            )
        short_message = pdu.short_message if isinstance(pdu, SubmitSm) else b""
        self.submits.append(
            Submitted(
                message_id,
                session.system_id,
                pdu.source_addr,
                pdu.destination_addr,
                pdu.esm_class,
                pdu.data_coding,
                short_message.hex(),
                pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"").hex(),
                sar,
                word,
                self._bind_numbers.get(session, 0),
            )
        )
        self.counters["submits"] += 1
        if pdu.registered_delivery & 0x03:
            s = self.settings
            delay = self._response_delay_s + random.uniform(
                s.receipt_delay_min_s, max(s.receipt_delay_min_s, s.receipt_delay_max_s)
            )  # never before the submit_sm_resp
            receipt = receipt_for(
                pdu,
                message_id,
                _format_id(number, s.receipt_id_base),
                word,
                tlvs=s.receipt_tlvs,
            )
            self._outbox.put(_Outbound(session.system_id, receipt, "receipt"), delay)
        if isinstance(pdu, DataSm):
            return DataSmResp(message_id=message_id)
        return SubmitSmResp(message_id=message_id)

    # -- receipts and replies out ----------------------------------------------------------

    def _receivers(self) -> list[Session]:
        """The bound sessions that take deliver_sm (not transmitters)."""
        return [session for session, mode in self._sessions.items() if mode != "tx"]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._sending.add(task)  # a reference, so the task is not collected
        task.add_done_callback(self._sending.discard)


def _format_id(number: int, base: str) -> str:
    return format(number, "x") if base == "hex" else str(number)
