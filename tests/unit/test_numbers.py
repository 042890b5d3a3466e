import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hongyan.core.numbers import _BLANKS, normalise, normalise_key, parse_numbers, split_numbers


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("13900008888", "13900008888"),
        ("+8613900008888", "13900008888"),
        ("8613900008888", "13900008888"),
        ("008613900008888", "13900008888"),
        ("19912345678", "19912345678"),
        ("02185418874", "02185418874"),  # spec §4: PHS/fixed line with area code
        ("075512345678", "075512345678"),
        ("0101234567", "0101234567"),
        ("1390000test", None),
        ("12900008888", None),  # 12x is not a mobile prefix
        ("1390000888", None),  # ten digits
        ("139000088889", None),
        ("2185418874", None),  # area code without its 0
        ("+86 13900008888", None),  # interior blanks are not trimmed
        ("", None),
    ],
)
def test_normalise(entry: str, expected: str | None) -> None:
    assert normalise(entry) == expected


def test_split_on_ascii_and_full_width_commas_trimming_blanks() -> None:
    assert split_numbers(" 13900008888，13100006666 ,\u300002185418874,, ") == [
        "13900008888",
        "13100006666",
        "02185418874",
    ]


def test_parse_keeps_order_and_marks_invalid_entries() -> None:
    numbers = parse_numbers("13900008888,1390000test,+8613100006666")
    assert numbers.entries == ("13900008888", "1390000test", "+8613100006666")
    assert numbers.normalised == ("13900008888", None, "13100006666")
    assert numbers.valid_count == 2


def test_search_key_is_normalised_when_it_is_a_number() -> None:
    assert normalise_key(" +8613900008888 ") == "13900008888"
    assert normalise_key("1390000") == "1390000"


def test_control_characters_inside_an_entry_are_replaced() -> None:
    assert split_numbers("13900008888,12\n34, 5\x006 ") == ["13900008888", "12?34", "5?6"]


# The reading before issue 11 (one Python step per comma), kept as the oracle.
def _split_as_before(raw: str) -> list[str]:
    entries = (part.strip(_BLANKS) for part in re.split("[,，]", raw))
    return [re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", entry) for entry in entries if entry]


@given(st.text(st.sampled_from(list("19,，8+6a \t\r\n\u3000\u00a0\x00\x85測")), max_size=40))
def test_split_reads_every_list_as_before(raw: str) -> None:
    assert split_numbers(raw) == _split_as_before(raw)


@given(
    st.text(st.sampled_from(list("19,，8 \t\u3000")), max_size=40),
    st.integers(0, 6),
)
def test_split_stops_one_entry_past_the_limit(raw: str, limit: int) -> None:
    assert split_numbers(raw, at_most=limit) == _split_as_before(raw)[: limit + 1]


def test_a_huge_list_is_read_one_entry_past_the_limit() -> None:
    numbers = parse_numbers("13900008888," * 1_000_000, at_most=2000)
    assert len(numbers.entries) == 2001
