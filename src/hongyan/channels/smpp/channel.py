"""The `smpp` channel: an SMPP 3.4 ESME keeping N binds to one SMSC.

Binds, windows, pacing and the throttle pause are the bound channel's
(channels/binds.py). Here: binding (transceiver, or a transmitter and
receiver pair), the submit_sm of each part, and reading its answer: an
ESME_RTHROTTLED or ESME_RMSGQFUL answer pauses the channel and the part is a
temporary failure for the dispatcher to retry; other errors are permanent
unless the SMSC says "try later" (ESME_RX_T_APPN, ESME_RSYSERR).

Receipts and replies (deliver_sm, data_sm) are answered only after the sink
has committed them; if it fails they are answered ESME_RX_T_APPN and the SMSC
offers them again.
"""

from __future__ import annotations

import logging

from hongyan.channels.base import (
    Part,
    SubmitOutcome,
)
from hongyan.channels.binds import BoundChannel, Link, now_ms
from hongyan.channels.smpp import mapping, receipt, text
from hongyan.channels.smpp.constants import (
    CommandStatus,
    status_name,
)
from hongyan.channels.smpp.pdu import (
    Bind,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    Pdu,
    SubmitSmResp,
    response_to,
)
from hongyan.channels.smpp.session import Session
from hongyan.channels.smpp.settings import SmppSettings

log = logging.getLogger(__name__)

_SLOW_DOWN = {CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL}
_TRY_LATER = {CommandStatus.ESME_RX_T_APPN, CommandStatus.ESME_RSYSERR}
_STATUS_WIDTH = 20  # messages.status holds 20 characters


def error_word(status: int) -> str:
    """What a refused part's report says: the command_status name, if it fits."""
    name = status_name(status)
    return name if len(name) <= _STATUS_WIDTH else f"0x{status:08X}"


class SmppChannel(BoundChannel):
    kind = "smpp"

    def __init__(self, settings: SmppSettings, gateway_prefix: str = "") -> None:
        links: list[Link] = []
        for i in range(1, settings.binds + 1):
            if settings.bind_mode == "transceiver":
                links.append(Link(f"{i}/trx"))
            else:
                links += [Link(f"{i}/tx", True, False), Link(f"{i}/rx", False, True)]
        super().__init__(settings, links)
        self._s = settings
        self._gateway_prefix = gateway_prefix

    def segments(self, content: str) -> list[str]:
        return text.segments(content, self._s.split, self._s.gsm7)

    # -- binding ------------------------------------------------------------------------

    async def _bind(self, link: Link) -> None:
        s = self._s
        session = Session(
            f"{self.name}-{link.label}",
            self._on_request,
            window=s.window,
            response_timeout_s=s.response_timeout_s,
            enquire_link_s=s.enquire_link_s,
        )
        await self._connect(link, session, s.host, s.port, s.connect_timeout_s)
        request: Bind
        if link.transmits and link.receives:
            request = BindTransceiver()
        elif link.transmits:
            request = BindTransmitter()
        else:
            request = BindReceiver()
        request.system_id, request.password = s.system_id, s.password
        request.system_type, request.address_range = s.system_type, s.address_range
        answer = await self._log_in(session, request, s.response_timeout_s)
        if answer.status:
            session.close()
            raise ConnectionError(f"bind refused: {status_name(answer.status)}")
        session.bound = True

    # -- submitting ----------------------------------------------------------------------

    async def _request_part(self, link: Link, part: Part) -> SubmitOutcome:
        assert link.session is not None
        answer = await link.session.request(mapping.submit_sm(part, self._s))
        if answer.status == 0 and isinstance(answer, SubmitSmResp) and answer.message_id:
            return SubmitOutcome(receipt.canonical_id(answer.message_id, self._s.submit_id_base))
        word = error_word(answer.status) if answer.status else "NO_MESSAGE_ID"
        if answer.status in _SLOW_DOWN:
            self._slow_down()
            return SubmitOutcome(error=word, temporary=True)
        return SubmitOutcome(error=word, temporary=answer.status in _TRY_LATER or not answer.status)

    # -- what the SMSC sends ----------------------------------------------------------

    async def _on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm):
            await self._take(pdu)
            return DeliverSmResp()
        if isinstance(pdu, DataSm):
            await self._take(mapping.as_deliver(pdu))
            return DataSmResp()
        return response_to(pdu.command_id, pdu.sequence, CommandStatus.ESME_RINVCMDID)

    async def _take(self, pdu: DeliverSm) -> None:
        """Commit a receipt or reply; returns once it is safe to acknowledge."""
        await self._hand_over(mapping.inbound(pdu, self._s, self._gateway_prefix, now_ms()))
