"""Extension codes are prefix-free, so a reply has one owner whatever `mid`
follows the code (hongyan.core.extensions; issue 11, item 4)."""

from __future__ import annotations

import pytest

from hongyan.core.extensions import (
    MID_DIGITS,
    TIERS,
    allowed,
    collide,
    collisions,
    extension,
    extension_of,
    first_candidate,
    gateway_number,
    is_mid,
    next_candidate,
    prefixes,
    split,
)

PREFIX = "10690"  # the default gateway_prefix
SMPP_SOURCE_ADDR = 20  # SMPP 3.4 §4.4.1: C-Octet String, 21 octets with the NUL
MID = 6


def test_tiers_never_collide_and_fit_every_field() -> None:
    edges = [tier.code(n) for tier in TIERS for n in (tier.first, tier.last)]
    assert edges == ["0001", "8999", "900000", "989999", "99000000", "99899999"]
    for i, a in enumerate(edges):
        for b in edges[i + 1 :]:
            assert not collide(a, b), (a, b)
    longest = max(tier.width for tier in TIERS)
    assert len(PREFIX) + longest + MID <= SMPP_SOURCE_ADDR
    assert longest + MID <= 21  # submissions.source is String(21)
    assert longest <= 12  # accounts.ext_code is String(12)
    assert sum(tier.last - tier.first + 1 for tier in TIERS) == 998_999


def test_a_code_that_begins_or_is_begun_by_one_in_use_is_not_allowed() -> None:
    in_use = ["1000", "9123"]
    assert allowed("1001", in_use)
    assert not allowed("10000", in_use)  # the collision of the old allocator
    assert not allowed("100", in_use)
    assert not allowed("912345", in_use)
    assert allowed("912400", in_use)
    assert not allowed("1000", in_use)
    assert not allowed("12a4", [])


def test_candidates_skip_what_a_shorter_code_in_use_rules_out() -> None:
    four, six, _ = TIERS
    assert first_candidate(four, None) == "0001"
    assert first_candidate(four, "0041") == "0042"
    assert first_candidate(four, "8999") is None
    assert first_candidate(six, None) == "900000"
    # Codes 9000-9999 from the old allocator each rule out 100 codes of six digits.
    assert next_candidate(six, "900000", ["9000"]) == "900100"
    assert next_candidate(six, "912300", ["9123", "912300"]) == "912400"
    assert next_candidate(six, "900017", ["9000171"]) == "900018"
    assert next_candidate(six, "989950", ["9899"]) is None


def test_the_extension_part_splits_into_one_code_and_its_mid() -> None:
    codes = ["1000", "0042", "900100"]
    assert split("1000", codes) == ("1000", "")
    assert split("100012", codes) == ("1000", "12")
    assert split("10000", codes) == ("1000", "0")  # no account 10000: account 1000, mid 0
    assert split("900100123456", codes) == ("900100", "123456")
    assert split("9001", codes) is None
    assert split("", codes) is None
    # Were codes not prefix-free, the owner would be unknown rather than guessed.
    assert split("100001", ["1000", "10000"]) is None


def test_prefixes_are_the_codes_that_could_begin_a_number() -> None:
    assert prefixes("10005") == ["1", "10", "100", "1000", "10005"]
    assert len(prefixes("1" * 30)) == 12


def test_collisions_name_every_pair_of_the_old_allocation() -> None:
    old = [(f"a{n}", f"{n:04d}") for n in range(1, 10_051)]
    found = collisions(old)
    assert ("a1000", "1000", "a10000", "10000") in found
    assert ("a1005", "1005", "a10050", "10050") in found
    assert len(found) == 51  # 10000-10050, each begun by its first four digits
    assert collisions([("a", "1"), ("b", "12"), ("c", "123"), ("d", "2")]) == [
        ("a", "1", "b", "12"),
        ("a", "1", "c", "123"),
        ("b", "12", "c", "123"),
    ]
    assert collisions([(f"a{n}", TIERS[0].code(n)) for n in range(1, 9000)]) == []


@pytest.mark.parametrize("mid", ["", "0", "00", "123456", "999999"])
def test_a_mid_never_makes_one_accounts_number_anothers(mid: str) -> None:
    codes = ["0001", "1000", "8999", "900000", "900001", "989999", "99000000"]
    for code in codes:
        assert split(code + mid, codes) == (code, mid)


@pytest.mark.parametrize("code", ["0001", "8999", "900000", "99899999"])
def test_a_gateway_number_is_composed_and_read_back_by_one_rule(code: str) -> None:
    """What /mt/ sends from, what `account show` prints, and what a reply is
    owned by are the same composition: prefix + code + mid."""
    for mid in ["", "5", "05", "123456"]:
        gateway = gateway_number(PREFIX, extension(code, mid))
        assert gateway == PREFIX + code + mid
        after = extension_of(gateway, PREFIX)
        assert after is not None
        assert split(after, [code]) == (code, mid)
    assert extension_of("10691" + code, PREFIX) is None


def test_a_mid_is_up_to_six_ascii_digits() -> None:
    assert MID_DIGITS == MID
    assert all(is_mid(mid) for mid in ["", "0", "123456"])
    assert not any(is_mid(mid) for mid in ["1234567", "12a", " 1", "\u0661", "\u00b2"])
