"""The records' rules: Beijing days, what a status means, what a filter takes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hongyan.core.records import message_filter, reply_filter, status_class
from hongyan.core.states import StatusClass
from hongyan.errors import InvalidInput

BEIJING = ZoneInfo("Asia/Shanghai")
# 2026-11-30 00:00 in Beijing is 2026-11-29 16:00 UTC.
NOV_30 = 1_796_011_200_000 - 12 * 3_600_000


def test_dates_are_beijing_days_and_the_last_counts_whole() -> None:
    f = message_filter(BEIJING, start="2026-11-30", end="2026-11-30")
    assert (f.since, f.until) == (NOV_30, NOV_30 + 86_400_000)
    assert message_filter(BEIJING, end="2026-11-29").until == NOV_30
    assert message_filter(BEIJING).since is None


def test_the_status_a_person_reads() -> None:
    assert status_class("100") == StatusClass.DELIVERED
    assert status_class("0") == StatusClass.WAITING
    for failure in ("UNDELIV", "MK:0001", "ESME_RINVDSTADR", "115", ""):
        assert status_class(failure) == StatusClass.FAILED


def test_a_number_is_matched_as_the_store_keeps_it() -> None:
    assert message_filter(BEIJING, number=" +8613900001111 ").mobile == "13900001111"
    assert reply_filter(BEIJING, number="8613900001111").mobile == "13900001111"


@pytest.mark.parametrize(
    "given",
    [
        {"start": "30/11/2026"},
        {"end": "2026-13-01"},
        {"batch": "12a"},
        {"batch": "9" * 19},
        {"status": "X" * 21},
        {"number": "1" * 41},
    ],
)
def test_what_cannot_be_read_is_refused(given: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        message_filter(BEIJING, **given)


def test_a_long_search_is_refused() -> None:
    with pytest.raises(InvalidInput):
        reply_filter(BEIJING, text="x" * 101)
    assert reply_filter(BEIJING, text="  TD ").text == "TD"
