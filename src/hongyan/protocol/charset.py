"""Is a request's text UTF-8 although it does not say so? (PROTOCOL.md
"Transport", deliberate extension.)

Without `encode`, the document's default is GBK (read as GB18030). Clients that
send UTF-8 and forget `encode=utf8` are common, and their text was accepted,
charged and delivered garbled. Bytes are read as UTF-8 instead when

1. they are strictly valid UTF-8,
2. their UTF-8 reading has a character of three or more bytes: U+0800 to
   U+FFFF (every Chinese character, CJK punctuation, full-width forms) or an
   emoji (U+1F000 to U+1FAFF), and
3. every character of that reading is one Chinese SMS text is written in:
   a character GBK holds (its private-use area aside), or Latin-1, general
   punctuation, currency, letterlike, arrows to dingbats, CJK symbols, CJK
   unified ideographs, variation selectors, emoji, CJK extensions B to H.

Why these and not just "valid UTF-8 with a multi-byte sequence", which is all
the spec's wording asks: GBK text is valid UTF-8 far more often than that
wording suggests. A GB2312 character whose first byte is C2 to DF and second
A1 to BF is a two-byte UTF-8 sequence by itself (谢 is D0 BB, which is "л"), so
谢谢, 路路 and 957,156 of the 55 million pairs of GB2312 characters are
valid UTF-8. Condition 2 refuses all of them: in a text of GB2312 characters a
UTF-8 sequence of three or four bytes can only start at a first byte of E0 to
F4, that is at a rarer (level 2) character of rows E0 to F7; a text of ASCII,
symbols and the 3,755 common (level 1) characters is never read as UTF-8. The
pairs that parse as one four-byte sequence give CJK extension B or planes 3
to 15, which condition 2 does not count. Condition 3 refuses what is left
that reads as Hangul, Devanagari, private use and the like: a UTF-8 client
writing Chinese sends none of that.

What is given up: a UTF-8 text whose only non-ASCII characters are two-byte
ones (Latin-1, Greek, Cyrillic, pinyin: "Café", "30°C") is read as GBK, as
before; those bytes are GBK text as often as not ("αβ" in UTF-8 is 伪尾 in GBK,
"лл" is 谢谢). And text with characters outside condition 3 (Korean, Thai)
needs `encode=utf8`, as the document says.

tests/unit/test_charset_guess.py runs the corpus of real SMS texts and every
pair of GB2312 characters through this; bench/charset_guess.py prints how
often random strings are misread.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

_THREE_BYTES_OR_EMOJI = re.compile("[\u0800-\uffff\U0001f000-\U0001faff]")

# Beyond what GBK holds: what UTF-8 clients writing Chinese also send.
_ALSO_WRITTEN = (
    (0x00A0, 0x00FF),  # Latin-1 supplement: © ® ¥ °
    (0x2000, 0x206F),  # general punctuation: • ‰, zero-width joiner
    (0x20A0, 0x20CF),  # currency: €
    (0x2100, 0x214F),  # letterlike: ™ ℃
    (0x2190, 0x27BF),  # arrows, maths, technical, enclosed, shapes, symbols, dingbats: ✓ ☀ ❤
    (0x2B00, 0x2BFF),  # symbols and arrows: ⭐
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x4E00, 0x9FFF),  # CJK unified ideographs (GBK stops at U+9FA5)
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation)
    (0x1F000, 0x1FAFF),  # mahjong, cards, enclosed, emoji, symbols
    (0x20000, 0x323AF),  # CJK extensions B to H (rare names)
)


def _runs(code_points: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for point in sorted(set(code_points)):
        if runs and runs[-1][1] == point - 1:
            runs[-1] = (runs[-1][0], point)
        else:
            runs.append((point, point))
    return runs


@cache
def gbk_characters() -> tuple[str, ...]:
    """Every character GBK holds, its private-use area aside.

    Read off the codec, two bytes at a time (lead 81-FE, trail 40-FE but 7F)."""
    held: list[str] = []
    for lead in range(0x81, 0xFF):
        for trail in (*range(0x40, 0x7F), *range(0x80, 0xFF)):
            try:
                char = bytes((lead, trail)).decode("gbk")
            except UnicodeDecodeError:
                continue
            if len(char) == 1 and unicodedata.category(char) != "Co":
                held.append(char)
    return tuple(held)


@cache
def _foreign() -> re.Pattern[str]:
    """A character no Chinese SMS text is written in (condition 3)."""
    held = [ord(char) for char in gbk_characters()]
    ranges = [(0x00, 0x7F), *_runs(held), *_ALSO_WRITTEN]
    return re.compile("[^" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]")


def looks_like_utf8(data: bytes) -> bool:
    """Whether bytes sent without `encode` are UTF-8 rather than GBK (the module's rule)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _THREE_BYTES_OR_EMOJI.search(text) is not None and _foreign().search(text) is None
