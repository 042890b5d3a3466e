"""The /mt/ checks before anything is stored: their order, and ids read as far
as there are numbers (PROTOCOL.md "/mt/ send")."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hongyan.core.content import KeywordFilter
from hongyan.core.send_checks import SendForm, SendLimits, check_send, read_mobileids
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat

LIMITS = SendLimits(max_numbers=3, max_content_chars=10, max_schedule_days=30)
ZONE = ZoneInfo("Asia/Shanghai")
NOW = 1_750_000_000_000


def stat_of(form: SendForm) -> Stat:
    with pytest.raises(Rejected) as refused:
        check_send(form, LIMITS, KeywordFilter(["赌博"]), ZONE, NOW)
    return refused.value.stat


@pytest.mark.parametrize(
    ("form", "stat"),
    [
        (SendForm("", "x" * 99), Stat.EMPTY_NUMBER_OR_CONTENT),
        (SendForm("1,2,3,4", " \n "), Stat.EMPTY_NUMBER_OR_CONTENT),
        (SendForm("1,2,3,4", "赌博" * 99), Stat.TOO_MANY_NUMBERS),
        # Length before the control and keyword checks: a long text is never scanned.
        (SendForm("13900008888", "赌博\x00" * 4), Stat.CONTENT_TOO_LONG),
        (SendForm("13900008888", "赌\x00博"), Stat.ILLEGAL_CHARACTERS),
        (SendForm("13900008888", "来 赌，博"), Stat.ILLEGAL_CHARACTERS),
        (SendForm("1390000test", "x", time="tomorrow", mid="x"), Stat.BAD_SCHEDULE_TIME),
        (SendForm("1390000test", "x", mid="1234567"), Stat.ILLEGAL_CHARACTERS),
        (SendForm("1390000test", "x", mobileids="a!"), Stat.ILLEGAL_CHARACTERS),
        (SendForm("1390000test", "x"), Stat.BAD_NUMBER),
    ],
)
def test_answers_in_order(form: SendForm, stat: Stat) -> None:
    assert stat_of(form) == stat


def test_crlf_counts_as_one_character() -> None:
    checked = check_send(SendForm("13900008888", "a\r\n" * 5), LIMITS, KeywordFilter([]), ZONE, NOW)
    assert checked.content == "a\n" * 5
    assert stat_of(SendForm("13900008888", "a\r\n" * 5 + "a")) == Stat.CONTENT_TOO_LONG


# The reading before issue 11 (every id split and checked), kept as the oracle.
def _ids_as_before(raw: str) -> list[str] | None:
    if not raw.strip():
        return []
    ids = [part.strip() for part in raw.replace("，", ",").split(",")]
    if any(value and not _is_id(value) for value in ids):
        return None
    return ids


def _is_id(value: str) -> bool:
    return 0 < len(value) <= 40 and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)


def _read(raw: str, count: int) -> list[str] | None:
    try:
        return read_mobileids(raw, count)
    except Rejected as exc:
        assert exc.stat == Stat.ILLEGAL_CHARACTERS
        return None


@given(
    st.one_of(
        st.text(st.sampled_from(list("aZ9_-,， \t\u3000!é")), max_size=30),
        st.lists(st.text(st.sampled_from("ab"), min_size=38, max_size=42)).map(",".join),
    ),
    st.integers(1, 5),
)
def test_ids_are_read_as_before_up_to_the_number_count(raw: str, count: int) -> None:
    before = _ids_as_before(raw)
    assert _read(raw, count) == (None if before is None else before[:count])


def test_ids_past_the_numbers_are_checked_but_not_kept() -> None:
    assert read_mobileids("a1, a2 ,a3,,a5", 2) == ["a1", "a2"]
    assert _read("a1,a2,a3!", 2) is None
    assert _read("a1,a2," + "x" * 41, 2) is None
    assert read_mobileids("a1", 3) == ["a1"]
