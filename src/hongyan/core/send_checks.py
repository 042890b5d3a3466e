"""The checks of one /mt/ request before anything is stored (PROTOCOL.md "/mt/ send").

The answers come in this order: 108 empty number or content, 106 too many
numbers, 105 content too long, 104 control character or blocked keyword, 113
bad time, 104 bad `mid` or id, 112 no valid number.

Every check reads a bounded part of what the client sent before any work
grows with it, so a request costs what the protocol's limits allow (500
characters, 2000 numbers), not what the body's size allows: the number list
is read one entry past the limit and no further, the content is measured
before it is scanned for keywords, and the ids are read as far as there are
numbers (issue 11: a 4 MiB content cost a second of the event loop in the
keyword scan). What remains proportional to a value's size is a scan in C
(a length, a strip, a regular expression), bounded by the body limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hongyan.core import extensions
from hongyan.core.content import KeywordFilter, has_control_characters, normalise_newlines
from hongyan.core.numbers import NumberList, parse_numbers
from hongyan.core.schedule import ScheduleError, parse_schedule
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat

_MOBILEID = re.compile(r"[0-9A-Za-z_-]{1,40}")
# Ids past the last number are ignored, but one that is malformed is still
# 104: the whole rest is checked in one pass of the regex engine (possessive,
# so it never backtracks) instead of one Python step per id.
_ID = r"(?:[0-9A-Za-z_-]{1,40}+\s*+)?+"
_IDS = re.compile(rf"\s*+{_ID}(?:,\s*+{_ID})*+")


@dataclass(frozen=True, slots=True)
class SendForm:
    """The /mt/ parameters, decoded."""

    mobile: str
    content: str
    mobileids: str = ""
    mid: str = ""
    time: str = ""


@dataclass(frozen=True, slots=True)
class SendLimits:
    """The settings the checks apply (PROTOCOL.md "/mt/ send")."""

    max_numbers: int  # 50 by GET, 2000 by POST
    max_content_chars: int
    max_schedule_days: int


@dataclass(frozen=True, slots=True)
class CheckedSend:
    """A request that passed every check: what the submission is made of."""

    numbers: NumberList
    content: str
    mid: str
    mobileids: list[str]  # by position; an empty one is generated later
    due: int | None  # epoch ms, None for now


def check_send(
    form: SendForm, limits: SendLimits, keywords: KeywordFilter, zone: ZoneInfo, now: int
) -> CheckedSend:
    """Check one /mt/ request; raises `Rejected` with the protocol's stat code."""
    numbers = parse_numbers(form.mobile, at_most=limits.max_numbers)
    if not numbers.entries or not form.content.strip():
        raise Rejected(Stat.EMPTY_NUMBER_OR_CONTENT)
    if len(numbers.entries) > limits.max_numbers:
        raise Rejected(Stat.TOO_MANY_NUMBERS)
    content = _bounded_content(form.content, limits.max_content_chars)
    if has_control_characters(content):
        raise Rejected(Stat.ILLEGAL_CHARACTERS, "control character")
    if (keyword := keywords.find(content)) is not None:
        raise Rejected(Stat.ILLEGAL_CHARACTERS, f"blocked keyword {keyword!r}")
    try:
        due = parse_schedule(form.time, zone, now, limits.max_schedule_days)
    except ScheduleError as exc:
        raise Rejected(Stat.BAD_SCHEDULE_TIME, str(exc)) from None
    mid = form.mid.strip()
    if not extensions.is_mid(mid):
        raise Rejected(Stat.ILLEGAL_CHARACTERS, "mid is up to 6 digits")
    ids = read_mobileids(form.mobileids, len(numbers.entries))
    if numbers.valid_count == 0:
        raise Rejected(Stat.BAD_NUMBER)
    return CheckedSend(numbers, content, mid, ids, due)


def _bounded_content(raw: str, limit: int) -> str:
    """The content with newlines folded, or 105 when it is over `limit` characters.

    Folding CRLF to LF at most halves the length, so a text over twice the
    limit is refused before it is copied."""
    if len(raw) > 2 * limit:
        raise Rejected(Stat.CONTENT_TOO_LONG)
    content = normalise_newlines(raw)
    if len(content) > limit:
        raise Rejected(Stat.CONTENT_TOO_LONG)
    return content


def read_mobileids(raw: str, count: int) -> list[str]:
    """The ids of the first `count` numbers, by position (PROTOCOL.md `mobileids`:
    missing ids are generated, extra ids are ignored); 104 on a malformed one."""
    if not raw.strip():
        return []
    pieces = raw.replace("，", ",").split(",", count)  # at most count + 1 pieces
    ids = [piece.strip() for piece in pieces[:count]]
    rest = pieces[count] if len(pieces) > count else ""
    if any(value and not _MOBILEID.fullmatch(value) for value in ids) or not _IDS.fullmatch(rest):
        raise Rejected(Stat.ILLEGAL_CHARACTERS, "mobileid is up to 40 of [0-9A-Za-z_-]")
    return ids
