"""Message text rules: control characters, blocked keywords, length and parts.

PROTOCOL.md: control characters other than newline are `104`; a blocked
keyword, matched case-insensitively after removing spaces and punctuation, is
`104`; billing counts parts of 70 characters, or 67 each when split.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SINGLE_PART_UNITS = 70
MULTI_PART_UNITS = 67

# C0 and C1 controls but newline; a CR of a CRLF is folded away first.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def sms_units(text: str) -> int:
    """Length as carriers count it: UTF-16 code units (an emoji takes two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def parts_of(text: str) -> int:
    """Billing parts (条) of a text: one up to 70 units, else ceil(units / 67)."""
    units = sms_units(text)
    if units <= SINGLE_PART_UNITS:
        return 1
    return -(-units // MULTI_PART_UNITS)


def split_parts(text: str) -> list[str]:
    """The text cut as it is billed: whole, or 67 UTF-16 units a part (no pair split)."""
    if sms_units(text) <= SINGLE_PART_UNITS:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    units = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if units + width > MULTI_PART_UNITS:
            parts.append("".join(current))
            current, units = [], 0
        current.append(ch)
        units += width
    parts.append("".join(current))
    return parts


def fold_for_matching(text: str) -> str:
    """Text reduced for keyword matching: NFKC, case-folded, no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not _is_separator(ch))


def _is_separator(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "PZS" or category == "Cc"


class KeywordFilter:
    """The operator's blocked keywords, compiled into one regular expression."""

    def __init__(self, keywords: Iterable[str]) -> None:
        folded = sorted({fold_for_matching(k) for k in keywords} - {""}, key=len, reverse=True)
        self.keywords = tuple(folded)
        self._pattern = re.compile("|".join(map(re.escape, folded))) if folded else None

    def find(self, text: str) -> str | None:
        """The first blocked keyword in `text`, or None."""
        if self._pattern is None:
            return None
        match = self._pattern.search(fold_for_matching(text))
        return match.group(0) if match else None
