"""Several binds to a slow SMSC share the load (issue 11 item 12).

When the carrier answers each submit_sm after a while, a bind carries at most
`window` submits per response time, and only more binds add throughput. So
every bind must be kept full: the peers (`hongyan smsc` and smsc.js) answer
after RESPONSE_DELAY_MS and record the session each submit came over, and
the submits of a batch that fills every window several times over must be
spread over all the binds. Nothing here measures time: bench/smpp.py
`--response-delay` gives the rates (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from hongyan.channels.base import Part
from hongyan.channels.smpp.channel import SmppChannel
from hongyan.channels.smpp.settings import SmppSettings
from tests.integration.test_smpp_hostile import NullSink
from tests.peers.either import PEERS, Peer, running_peer

BINDS = 4
WINDOW = 8
RESPONSE_DELAY_MS = 200
SINGLES = BINDS * WINDOW * 6  # every window filled six times over
LONG = 8  # and messages of three parts among them
WITHIN_S = 120.0  # a generous bound: the batch needs ~2 s on an idle machine


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    with running_peer(
        request.param, failure_ratio=0.0, receipt_delay_ms=50, response_delay_ms=RESPONSE_DELAY_MS
    ) as started:
        yield started


def channel_to(peer: Peer) -> SmppChannel:
    settings = SmppSettings(
        name="spread",
        port=peer.port,
        system_id="hongyan",
        password="secret",
        binds=BINDS,
        window=WINDOW,
        split="sar",
        submit_id_base="hex",
        receipt_id_base="dec",
        response_timeout_s=WITHIN_S,  # a slow answer is not a lost one here
    )
    return SmppChannel(settings, "")


async def bound(channel: SmppChannel) -> None:
    for _ in range(int(WITHIN_S / 0.05)):
        if channel.status().extra["binds_up"] == f"{BINDS}/{BINDS}":
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"not every bind up within {WITHIN_S} s: {channel.status()}")


def batch(prefix: str) -> list[Part]:
    """SINGLES one-part messages, with LONG three-part ones spread among them."""
    parts: list[Part] = []
    for i in range(SINGLES):
        parts.append(Part(i + 1, 1, 1, f"{prefix}{i:05d}5", "", f"single {i}"))
        if i % (SINGLES // LONG) == 0:
            message_id = 1000 + i
            mobile = f"{prefix}{i:05d}7"
            parts += [Part(message_id, seq, 3, mobile, "", f"part {seq}") for seq in (1, 2, 3)]
    return parts


async def test_a_full_batch_is_spread_over_every_bind(peer: Peer) -> None:
    channel = channel_to(peer)
    await channel.start(NullSink())
    try:
        await bound(channel)
        parts = batch("13960")
        outcomes = await asyncio.wait_for(channel.submit(parts), WITHIN_S)
        assert all(o.accepted for o in outcomes), Counter(o.error for o in outcomes)
        submits = [
            s for s in await asyncio.to_thread(peer.submits) if s["destination"][:5] == "13960"
        ]
    finally:
        await channel.stop()

    assert len(submits) == len(parts)  # each once: no bind was lost and made again
    per_bind = Counter(s["bind"] for s in submits)
    fair = len(parts) / BINDS
    # Every bind kept its window full, so each carried about a quarter; half of
    # that leaves room for a loaded machine. Counting only what is on the wire
    # and giving ties to the first bind put 7 in 8 submits on one bind.
    assert len(per_bind) == BINDS, per_bind
    assert min(per_bind.values()) >= fair / 2, per_bind
    assert max(per_bind.values()) <= fair * 1.5, per_bind

    # A long message's parts still go in order, each once the one before is
    # answered: the peer saw 1, 2, 3, whichever binds they took.
    by_mobile: dict[str, list[int]] = {}
    for s in submits:
        if s["sar"] is not None:
            by_mobile.setdefault(s["destination"], []).append(s["sar"][2])
    assert len(by_mobile) == LONG
    assert all(seqs == [1, 2, 3] for seqs in by_mobile.values()), by_mobile
