"""The operator console's live figures without a server: an answer kept for a
second and shared by concurrent polls, the chart's axis and labels, and the
keyword test that judges a text as the API does."""

from __future__ import annotations

import asyncio

from hongyan.admin.live import Cached, throughput_json
from hongyan.core.content import KeywordFilter
from hongyan.core.keyword_check import check_text
from hongyan.core.throughput import Second


async def test_concurrent_polls_share_one_read_and_a_second_later_read_again() -> None:
    now = [100.0]
    reads: list[int] = []
    release = asyncio.Event()

    async def load() -> int:
        reads.append(len(reads))
        await release.wait()  # the read takes a while: every poll arrives meanwhile
        return len(reads)

    cached = Cached(load, ttl_s=1.0, clock=lambda: now[0])
    polls = [asyncio.create_task(cached.get()) for _ in range(25)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*polls) == [1] * 25
    now[0] += 0.99
    assert await cached.get() == 1 and reads == [0]
    now[0] += 0.02
    assert await cached.get() == 2 and cached.loads == 2


def test_the_throughput_answer_has_a_round_axis_labels_and_the_newest_second() -> None:
    seconds = [Second(1000 + i, accepted=i * 10, delivered=i) for i in range(60)]
    data = throughput_json(seconds, lambda at: f"t{at}")
    assert data["axis"]["top"] >= 590 and data["axis"]["ticks"][0] == 0
    assert len(data["axis"]["ticks"]) == len(data["axis"]["labels"]) == 5
    assert data["now"] == {"accepted": 590, "submitted": 0, "delivered": 59, "failed": 0}
    assert data["total"]["accepted"] == sum(i * 10 for i in range(60))
    assert data["text"]["total-accepted"] == "17,700"
    # The newest second always has its label; every 15 s before it one more.
    assert data["x_labels"][-1] == [59, "t1059"]
    assert [i for i, _ in data["x_labels"]] == [14, 29, 44, 59]
    assert data["text"]["as-of"] == "t1059"


def test_an_idle_minute_still_draws_an_axis() -> None:
    data = throughput_json([Second(2000 + i) for i in range(60)], str)
    assert data["axis"]["top"] > 0 and data["total"]["accepted"] == 0


def test_the_keyword_test_agrees_with_the_apis_filter_and_names_every_hit() -> None:
    words = ["Free Gift", "代开发票", "loan"]
    text = "get a FREE-gift today; 代 开 发 票 available"
    found = check_text(words, text)
    assert found.refused and not found.control
    assert found.hits == ("Free Gift", "代开发票")
    assert found.first == KeywordFilter(words).find(text)  # the API's own verdict
    assert not check_text(words, "your code is 1234").refused
    assert check_text(words, "your code is 1234").hits == ()
    controlled = check_text([], "bell\x07")
    assert controlled.refused and controlled.control and controlled.hits == ()
    assert not check_text(words, "line one\r\nline two").control  # CRLF is a newline
