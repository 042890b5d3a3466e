"""What channels hand back, committed: delivery receipts and replies.

`DeliverySink` is the `ChannelSink` every channel is started with; each call
returns once the item is committed, so the channel may acknowledge it then.
"""

from __future__ import annotations

import logging

from hongyan import metrics
from hongyan.channels.base import InboundFragment, InboundReply, Receipt
from hongyan.store import delivery
from hongyan.store import replies as reply_store
from hongyan.store.database import Database

log = logging.getLogger(__name__)


class DeliverySink:
    def __init__(self, db: Database, gateway_prefix: str) -> None:
        self._db = db
        self._gateway_prefix = gateway_prefix

    async def receipt(self, channel: str, receipt: Receipt) -> None:
        latency_ms = await self._db.write(delivery.record_receipts, (channel, receipt))
        if latency_ms is not None:
            metrics.RECEIPT_LATENCY.labels(channel).observe(max(0, latency_ms) / 1000)

    async def reply(self, channel: str, reply: InboundReply) -> None:
        incoming = reply_store.IncomingReply(channel, reply, self._gateway_prefix)
        owner = await self._db.write(reply_store.record, incoming)
        metrics.REPLIES.labels("attributed" if owner is not None else "unattributed").inc()
        if owner is None:
            log.warning("reply to a gateway number of no account", extra={"gateway": reply.gateway})

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None:
        part = reply_store.IncomingFragment(channel, fragment, self._gateway_prefix)
        await self._db.write(reply_store.record_fragment, part)
