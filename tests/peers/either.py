"""Either test SMSC by name, for fixtures parametrised over both peers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import service_missing
from tests.peers.hongyan_smsc import HongyanSmsc
from tests.peers.node_smsc import NodeSmsc, node_available

Peer = HongyanSmsc | NodeSmsc
PEERS = ["hongyan", "node"]


@contextmanager
def running_peer(
    kind: str, failure_ratio: float, receipt_delay_ms: int, response_delay_ms: int = 0
) -> Iterator[Peer]:
    """`hongyan smsc`, or smsc.js on node-smpp (missing node: the test skips,
    and fails where services are required); each submit_sm is answered
    `response_delay_ms` after it came in."""
    if kind == "node":
        reason = node_available()
        if reason is not None:
            service_missing(f"the independent SMPP peer cannot run: {reason}")
        with NodeSmsc(
            failure_ratio=failure_ratio,
            receipt_delay_ms=receipt_delay_ms,
            response_delay_ms=response_delay_ms,
        ) as node:
            yield node
    else:
        with HongyanSmsc(
            failure_ratio=failure_ratio,
            receipt_delay_ms=receipt_delay_ms,
            response_delay_ms=response_delay_ms,
        ) as ours:
            yield ours
