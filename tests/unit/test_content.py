import pytest

from hongyan.core.content import (
    KeywordFilter,
    has_control_characters,
    normalise_newlines,
    parts_of,
    sms_units,
)


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (500, 8)]
)
def test_parts_are_70_then_67_each(length: int, parts: int) -> None:
    assert parts_of("短" * length) == parts


def test_an_emoji_counts_two_units_as_carriers_count_it() -> None:
    assert sms_units("a😀") == 3
    assert parts_of("a" * 69 + "😀") == 2


def test_newline_is_allowed_other_controls_are_not() -> None:
    assert not has_control_characters("line one\nline two")
    assert has_control_characters("tab\there")
    assert has_control_characters("nul\x00")
    assert has_control_characters("c1\x85")
    assert normalise_newlines("a\r\nb\rc") == "a\nb\nc"


def test_keywords_match_case_insensitively_across_spaces_and_punctuation() -> None:
    keywords = KeywordFilter(["赌博", "Casino"])
    assert keywords.find("来 赌，博 吧") == "赌博"
    assert keywords.find("best C-A-S-I-N-O in town") == "casino"
    assert keywords.find("ＣＡＳＩＮＯ") == "casino"  # full-width letters fold by NFKC
    assert keywords.find("您的验证码是 1234") is None


def test_no_keywords_match_nothing() -> None:
    assert KeywordFilter([]).find("anything") is None
    assert KeywordFilter(["  ", "!!"]).find("anything") is None
