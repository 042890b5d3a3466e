"""Recipient numbers as the spec accepts them (spec §4 `mobile`, PROTOCOL.md).

Mainland mobiles are `1[3-9]` + 9 digits, with an optional `+86`, `86` or
`0086` prefix that is normalised away; fixed-line and PHS numbers carry their
area code (`0` + 2-3 digits) and 7-8 digits, e.g. `02185418874`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

# Blanks a sloppy client leaves around numbers: ASCII white space, the
# ideographic space and the no-break space.
_BLANKS = " \t\r\n\u3000\u00a0"
# One non-empty entry: from its first non-blank character up to the next comma
# (ASCII or full width). Found by the regex engine, so runs of commas and
# blanks between entries cost no Python step.
_ENTRY = re.compile(f"[^,，{_BLANKS}][^,，]*")
# [0-9], not \d: \d also matches full-width and other scripts' digits.
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_FIXED_LINE = re.compile(r"0[1-9][0-9]{1,2}[0-9]{7,8}")


@dataclass(frozen=True, slots=True)
class NumberList:
    """The numbers of one request, in the order given."""

    entries: tuple[str, ...]
    """Every non-empty entry, trimmed, as the client wrote it."""
    normalised: tuple[str | None, ...]
    """The normalised number of each entry, or None where it is not valid."""

    @property
    def valid_count(self) -> int:
        return sum(1 for n in self.normalised if n is not None)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def split_numbers(raw: str, at_most: int | None = None) -> list[str]:
    """Split on ASCII and full-width commas; trim blanks; drop empty entries.

    With `at_most`, stop one entry past it: that is enough to answer `106`, and
    keeps the work of a request bounded by the limit rather than by the size
    of what was sent (PROTOCOL.md "/mt/ send": 50 by GET, 2000 by POST).

    A control character left inside an entry becomes `?`: an invalid entry is
    stored and reported as written, and a line break in it would split a /st/
    report line in two."""
    found = _ENTRY.finditer(raw)
    if at_most is not None:
        found = islice(found, at_most + 1)
    return [_CONTROL.sub("?", match.group().rstrip(_BLANKS)) for match in found]


def normalise(entry: str) -> str | None:
    """The canonical form of one number, or None if it is not a valid number."""
    match = _MOBILE.fullmatch(entry)
    if match:
        return match.group(1)
    if _FIXED_LINE.fullmatch(entry):
        return entry
    return None


def parse_numbers(raw: str, at_most: int | None = None) -> NumberList:
    """The entries of `mobile` (one past `at_most` at most), each normalised."""
    entries = split_numbers(raw, at_most)
    return NumberList(tuple(entries), tuple(normalise(e) for e in entries))


def normalise_key(raw: str) -> str:
    """A search key for `/rd/ key=`: the normalised number when it is one."""
    raw = raw.strip(_BLANKS)
    return normalise(raw) or raw
