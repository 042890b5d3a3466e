"""A /mt/ request costs work bounded by the protocol's own limits, whatever the
size of its values (issue 11, item 2): the length check (105) comes before the
keyword scan, the number list is read one entry past the limit (106) and no
further, and the ids only as far as there are numbers.

Cost is measured without a clock: the characters the keyword matcher is given,
and the lines of hongyan's own Python run for the request. Linear scans in C
(splitting, a regular expression over the value) are not counted: the body
limit bounds them, and they cost microseconds a megabyte, where a Python loop
over 4 MiB costs a second.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import hongyan
from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.content import KeywordFilter
from hongyan.core.service import SendForm
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat
from hongyan.store.database import Database
from tests.store.test_store import sender

HUGE = 4 * 1024 * 1024
PACKAGE = str(Path(hongyan.__file__).parent)
# Ten lines per number the protocol allows in one request (2000 by POST).
LINE_BUDGET = 20_000


class CountingKeywords(KeywordFilter):
    """The operator's keywords, noting how many characters each scan is given."""

    def __init__(self, keywords: list[str]) -> None:
        super().__init__(keywords)
        self.given: list[int] = []

    def find(self, text: str) -> str | None:
        self.given.append(len(text))
        return super().find(text)


async def lines_run(work: Callable[[], Awaitable[Any]], budget: int) -> tuple[int, object]:
    """Lines of hongyan's own code `work` runs (counting stops past `budget`), and
    what it returned or raised."""
    count = 0
    previous = sys.gettrace()

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                sys.settrace(previous)
                return None
        return local

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(calls)
    try:
        outcome: object = await work()
    except Rejected as exc:
        outcome = exc.stat
    finally:
        sys.settrace(previous)
    return count, outcome


async def test_a_huge_content_is_105_before_any_keyword_scan(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator)
    keywords = CountingKeywords(["赌博"])
    service.gates.keywords = keywords
    content = "来赌博吧" + "好" * HUGE
    with pytest.raises(Rejected) as refused:
        await service.send(account, SendForm("13900008888", content), post=True)
    assert refused.value.stat == Stat.CONTENT_TOO_LONG
    assert keywords.given == [], "the keyword matcher read a content already too long"

    # Within the limit, the keyword still answers 104, having read at most the limit.
    limit = settings.max_content_chars
    with pytest.raises(Rejected) as refused:
        await service.send(account, SendForm("13900008888", "来赌博吧" * (limit // 4)), post=True)
    assert refused.value.stat == Stat.ILLEGAL_CHARACTERS
    assert keywords.given == [limit]


@pytest.mark.parametrize(
    ("name", "value", "stat"),
    [
        ("content", "来赌博吧" + "好" * HUGE, Stat.CONTENT_TOO_LONG),
        ("content", "a\r\n" * (HUGE // 3), Stat.CONTENT_TOO_LONG),
        ("mobile", "1," * (HUGE // 2), Stat.TOO_MANY_NUMBERS),
        ("mobile", "13900008888" + "," * HUGE, Stat.ILLEGAL_CHARACTERS),  # one number, then 104
        ("mobile", " , " * (HUGE // 3) + "13900008888", Stat.ILLEGAL_CHARACTERS),
        ("mobileids", "a," * (HUGE // 2), Stat.BAD_NUMBER),
        ("mobileids", "a" * HUGE, Stat.ILLEGAL_CHARACTERS),
        ("mid", "1" * HUGE, Stat.ILLEGAL_CHARACTERS),
        ("time", "2" * HUGE, Stat.BAD_SCHEDULE_TIME),
    ],
    ids=[
        "content",
        "content-crlf",
        "mobile",
        "mobile-commas",
        "mobile-blanks",
        "ids",
        "id",
        "mid",
        "time",
    ],
)
async def test_a_huge_value_costs_bounded_work(
    settings: Settings, db: Database, operator: Operator, name: str, value: str, stat: Stat
) -> None:
    service, account, _ = await sender(settings, db, operator)
    service.gates.keywords = KeywordFilter(["赌博"])
    # The other values make the request fail after the huge one is read: nothing is stored.
    values = {"mobile": "1390000test", "content": "hello", "mobileids": "", "mid": "", "time": ""}
    if name == "mobile":
        values["content"] = "赌博"
    values[name] = value
    form = SendForm(**values)
    count, outcome = await lines_run(lambda: service.send(account, form, post=True), LINE_BUDGET)
    assert outcome == stat
    assert count <= LINE_BUDGET, f"{name}: over {LINE_BUDGET} lines of Python for one request"
