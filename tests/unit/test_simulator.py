import pytest

from hongyan.channels.base import ChannelUnavailable, InboundReply, Part, Receipt, SentPart
from hongyan.channels.simulator import SimulatedCarrier, SimulatorSettings, outcome_of
from tests.waiting import until_async


class Sink:
    def __init__(self, fail_first: int = 0) -> None:
        self.receipts: list[Receipt] = []
        self.replies: list[InboundReply] = []
        self.fail_first = fail_first

    async def receipt(self, channel: str, receipt: Receipt) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("database down")
        self.receipts.append(receipt)

    async def reply(self, channel: str, reply: InboundReply) -> None:
        self.replies.append(reply)


def part(destination: str, message_id: int = 1) -> Part:
    return Part(message_id, 1, 1, destination, "0001", "hi")


def test_test_numbers_fail_with_their_words_and_others_are_delivered() -> None:
    assert outcome_of("13900000000", "a", 0) == "UNDELIV"
    assert outcome_of("13900000001", "a", 0) == "EXPIRED"
    assert outcome_of("13900000002", "a", 0) == "REJECTD"
    assert outcome_of("13900008888", "a", 0) == "100"


def test_the_failure_ratio_is_a_stable_share() -> None:
    ids = [f"{i:016x}" for i in range(10_000)]
    failed = sum(outcome_of("13900008888", i, 0.1) != "100" for i in ids)
    assert 900 < failed < 1100
    assert [outcome_of("13900008888", i, 0.1) for i in ids[:50]] == [
        outcome_of("13900008888", i, 0.1) for i in ids[:50]
    ]


async def test_receipts_follow_submits_and_failed_offers_come_again() -> None:
    sink = Sink(fail_first=1)
    carrier = SimulatedCarrier(SimulatorSettings(delay_min_s=0, delay_max_s=0))
    await carrier.start(sink)
    try:
        outcomes = await carrier.submit([part("13900008888"), part("13900000000", 2)])
        assert all(o.accepted for o in outcomes)

        async def both() -> bool:
            return len(sink.receipts) == 2

        await until_async(both, "both receipts")
        by_id = {r.upstream_id: r.status for r in sink.receipts}
        assert by_id == {outcomes[0].upstream_id: "100", outcomes[1].upstream_id: "UNDELIV"}
    finally:
        await carrier.stop()


async def test_down_throttled_and_rate_limited() -> None:
    carrier = SimulatedCarrier(SimulatorSettings(delay_min_s=60, delay_max_s=60, tps=2))
    await carrier.start(Sink())
    try:
        outcomes = await carrier.submit([part("13900008888")] * 3)
        assert [o.accepted for o in outcomes] == [True, True, False]
        assert outcomes[2].temporary and outcomes[2].error == "THROTTLED"
        carrier.throttle(10)
        assert carrier.status().state == "throttled"
        assert all(o.temporary for o in await carrier.submit([part("13900008888")]))
        carrier.go_down(10)
        assert carrier.status().state == "down"
        with pytest.raises(ChannelUnavailable):
            await carrier.submit([part("13900008888")])
    finally:
        await carrier.stop()


async def test_resume_gives_receipts_for_parts_sent_before_a_restart() -> None:
    sink = Sink()
    carrier = SimulatedCarrier(SimulatorSettings(delay_min_s=0, delay_max_s=0))
    await carrier.start(sink)
    try:
        await carrier.resume([SentPart("abc", "13900000001", 0)])

        async def any_receipt() -> bool:
            return bool(sink.receipts)

        await until_async(any_receipt, "the resumed receipt")
        assert [(r.upstream_id, r.status) for r in sink.receipts] == [("abc", "EXPIRED")]
        await carrier.inject_reply("13900008888", "1069001", "好")
        assert sink.replies[0].text == "好"
    finally:
        await carrier.stop()
