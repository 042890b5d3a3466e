"""The `cmpp` channel: an SP connected to a CMPP 2.0 or 3.0 gateway (China
Mobile's ISMG, or an aggregator that speaks CMPP) over N connections.

Connections, windows (16 by default, as the specification suggests), pacing
and the throttle pause are the bound channel's (channels/binds.py). Here:

* logging in: CMPP_CONNECT with the AuthenticatorSource made of the SP code,
  the shared secret and the timestamp; the gateway's CONNECT_RESP Status
  read (a refusal is named in the channel's last error) and its
  AuthenticatorISMG checked (`verify_ismg`), so that a gateway that does not
  know our secret is not believed;
* a SUBMIT per part, a long text's parts with the concatenation UDH
  (TP_udhi 1) and Pk_total / Pk_number; a SUBMIT_RESP with Result 0 gives
  the part its Msg_Id (kept in decimal), Result 8 (flow control) pauses the
  channel and the part is retried later, after the parts before it; any
  other Result fails the message with a named status (mapping.py);
* what the gateway sends: status reports (DELIVER, Registered_Delivery 1)
  matched by the Msg_Id of the SUBMIT_RESP, whichever connection either came
  over and even before the SUBMIT_RESP (the sink keeps such a receipt until
  the outcome is recorded); replies and parts of long replies
  (Registered_Delivery 0). Each DELIVER is answered Result 0 only once the
  sink has committed it; if it fails, Result 9 and the gateway offers it
  again.

ACTIVE_TEST goes out when a connection is quiet for `active_test_s` and is
answered when it comes in; one unanswered marks the link dead, and the
connection is dropped and made again. TERMINATE is sent on shutdown.
"""

from __future__ import annotations

import logging
from datetime import datetime

from hongyan.channels.base import (
    Part,
    SubmitOutcome,
)
from hongyan.channels.binds import BoundChannel, Link, now_ms
from hongyan.channels.cmpp import codec, mapping, text
from hongyan.channels.cmpp.pdu import (
    V2,
    V3,
    Connect,
    ConnectResp,
    ConnectStatus,
    Deliver,
    DeliverResp,
    Pdu,
    SubmitResp,
    SubmitResult,
)
from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.channels.cmpp.wire import Session

log = logging.getLogger(__name__)

_STRUCTURE_ERROR = 1  # DELIVER_RESP Result 1: "message structure error"


class CmppChannel(BoundChannel):
    kind = "cmpp"

    def __init__(self, settings: CmppSettings, gateway_prefix: str = "") -> None:
        super().__init__(settings, [Link(f"{i}") for i in range(1, settings.binds + 1)])
        self._s = settings
        self._gateway_prefix = gateway_prefix

    def segments(self, content: str) -> list[str]:
        return text.segments(content, self._s.coding)

    def _extra(self) -> dict[str, str]:
        return {"version": self._s.version}

    # -- logging in --------------------------------------------------------------------

    async def _bind(self, link: Link) -> None:
        s = self._s
        session = Session(
            f"{self.name}-{link.label}",
            self._on_request,
            version=s.version_octet,
            window=s.window,
            response_timeout_s=s.response_timeout_s,
            enquire_link_s=s.active_test_s,
        )
        await self._connect(link, session, s.host, s.port, s.connect_timeout_s)
        stamp = codec.timestamp(datetime.now())
        source = codec.authenticator_source(s.sp_id, s.secret, stamp)
        request = Connect(
            source_addr=s.sp_id,
            authenticator_source=source,
            version=s.version_octet,
            timestamp=stamp,
        )
        answer = await self._log_in(session, request, s.response_timeout_s)
        refusal = _refusal(answer, source, s)
        if refusal:
            session.close()
            raise ConnectionError(refusal)
        session.bound = True

    # -- submitting ----------------------------------------------------------------------

    async def _request_part(self, link: Link, part: Part) -> SubmitOutcome:
        assert link.session is not None
        answer = await link.session.request(mapping.submit(part, self._s, self._gateway_prefix))
        if not isinstance(answer, SubmitResp):
            return SubmitOutcome(error="CMPP_BAD_ANSWER", temporary=True)
        if answer.result == SubmitResult.OK:
            return SubmitOutcome(str(answer.msg_id))
        word = mapping.result_word(answer.result, self._s.version_octet)
        if answer.result == SubmitResult.FLOW_CONTROL:
            self._slow_down()
            return SubmitOutcome(error=word, temporary=True)
        return SubmitOutcome(error=word)

    # -- what the gateway sends ----------------------------------------------------------

    async def _on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if not isinstance(pdu, Deliver):
            return None  # QUERY, CANCEL, SUBMIT are an SP's to send, not ours to answer
        item = mapping.inbound(pdu, self._s, self._gateway_prefix, now_ms())
        if item is None:
            # Not taken, so not lost: the gateway keeps it, and an operator sees why.
            self.last_error = "a status report too short to name a message"
            log.warning(
                "cmpp status report unreadable: refused, left with the gateway",
                extra={"channel": self.name, "octets": len(pdu.msg_content)},
            )
            return DeliverResp(msg_id=pdu.msg_id, result=_STRUCTURE_ERROR)
        await self._hand_over(item)
        return DeliverResp(msg_id=pdu.msg_id, result=0)


def _refusal(answer: Pdu, source: bytes, s: CmppSettings) -> str:
    """Why a CONNECT_RESP does not let us in; "" when it does."""
    if not isinstance(answer, ConnectResp):
        return "connect answered with something else"
    if answer.status != ConnectStatus.OK:
        try:
            name = ConnectStatus(answer.status).name.lower().replace("_", " ")
        except ValueError:
            name = "other error"
        hint = ' (set version = "2.0")' if answer.status == ConnectStatus.VERSION_TOO_HIGH else ""
        return f"connect refused: status {answer.status}, {name}{hint}"
    if answer.layout != (V3 if s.version_octet >= V3 else V2) or answer.version < s.version_octet:
        spoken = "3.0" if answer.layout == V3 and answer.version >= V3 else "2.0"
        return f'the gateway answers in CMPP {spoken}: set version = "{spoken}"'
    expected = codec.authenticator_ismg(answer.status, source, s.secret, s.version_octet)
    if s.verify_ismg and answer.authenticator_ismg != expected:
        return "connect refused by us: the gateway's AuthenticatorISMG does not match our secret"
    return ""
