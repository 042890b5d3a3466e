"""Testing a text against the blocked keywords, as the API would judge it.

The operator's system page asks "would this text be refused?" and "which of
my keywords does it hit?". The verdict is the API's own: the content's
newlines folded, then `has_control_characters` and `KeywordFilter.find`,
the checks `send_checks.check_send` refuses with `104`. The hits are every
blocked keyword whose own filter finds it in the text, named as the
operator wrote it (the API's filter names only the first, folded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hongyan.core.content import KeywordFilter, has_control_characters, normalise_newlines

TEXT_MAX = 2000  # what the page tests at most (the API's own bound is the account's)


@dataclass(frozen=True, slots=True)
class KeywordCheck:
    text: str
    refused: bool  # the API would answer 104 for this text
    first: str | None  # the keyword the API's refusal names (folded), if any
    hits: tuple[str, ...]  # every blocked keyword the text contains, as written
    control: bool  # a control character (also 104)


def check_text(keywords: Iterable[str], text: str) -> KeywordCheck:
    """What the API's content checks say of `text` with these blocked keywords."""
    content = normalise_newlines(text[:TEXT_MAX])
    words = tuple(keywords)
    first = KeywordFilter(words).find(content)
    hits = tuple(w for w in words if KeywordFilter((w,)).find(content) is not None)
    control = has_control_characters(content)
    return KeywordCheck(content, first is not None or control, first, hits, control)
