"""Answers in the protocol's own text forms (spec §4, §7, §8, §10; PROTOCOL.md).

Answers are GBK (UTF-8 on `/mtutf8/`); a character GBK cannot hold becomes `?`.
"""

from __future__ import annotations

from collections.abc import Sequence

from hongyan.protocol.dialect import Dialect
from hongyan.protocol.stat import Stat

GBK = "gbk"
UTF8 = "utf-8"


def encode(text: str, charset: str = GBK) -> bytes:
    return text.encode(charset, "replace")


def message_answer(stat: Stat) -> str:
    """`sms&stat=100&message=发送成功` and the like (/mt/, and errors of /mm/, /rd/)."""
    return f"sms&stat={int(stat)}&message={stat.text}"


def remain_answer(remain: int) -> str:
    """`sms&stat=100&remain=N` (spec §7, §8)."""
    return f"sms&stat={int(Stat.OK)}&remain={remain}"


def balance_answer(remain: int, dialect: Dialect) -> str:
    """/mm/: the document's `sms&stat=100&remain=N`, or `100||N` for a legacy account
    (PROTOCOL.md "Legacy dialect": its clients split on `||`, field 1 the number)."""
    if dialect is Dialect.LEGACY:
        return f"{int(Stat.OK)}||{remain}"
    return remain_answer(remain)


def sent_answer(endpoint: str) -> str:
    """A send's success: the full message on /mt/ and /mtutf8/, the bare `100` on /tx/
    (PROTOCOL.md "Legacy dialect": its clients compare the whole answer with `100`)."""
    return str(int(Stat.OK)) if endpoint == "tx" else message_answer(Stat.OK)


def reports_answer(lines: Sequence[tuple[str, str, str, str]]) -> str:
    """`mobile,status,mobileid,YYYY-MM-DD HH:MM:SS` a line, `\n`-separated, or empty (spec §5)."""
    return "\n".join(",".join(line) for line in lines)


def replies_answer(lines: Sequence[tuple[str, str, str, str]]) -> str:
    """`100{&}mobile||content||time||gateway{&}...`, or empty (spec §6.1)."""
    if not lines:
        return ""
    fields = ("||".join(escape_reply_field(field) for field in line) for line in lines)
    return "{&}".join([str(int(Stat.OK)), *fields])


def error_answer(endpoint: str, stat: Stat, dialect: Dialect | None = None) -> str:
    """A refusal in the endpoint's form.

    /rx/ answers the bare code (spec §6.1), and so does /tx/ for every account
    (PROTOCOL.md "Legacy dialect"); /mm/ answers `<stat>||0` to a legacy
    account (`dialect`: that of the account the uid names, None for none);
    the rest `sms&stat=<code>&message=<text>`.
    """
    if endpoint in ("rx", "tx"):
        return str(int(stat))
    if endpoint == "mm" and dialect is Dialect.LEGACY:
        return f"{int(stat)}||0"
    return message_answer(stat)


def records_answer(total: int, pages: int, lines: Sequence[tuple[str, str, str, str]]) -> str:
    """`total||count||pages|#|time||mobile||content||status|#|...`, or empty (spec §10)."""
    if not lines:
        return ""
    head = f"{total}||{len(lines)}||{pages}"
    body = "|#|".join(
        f"{time}||{escape_record_field(mobile)}||{escape_record_field(content)}||{status}"
        for time, mobile, content, status in lines
    )
    return f"{head}|#|{body}"


_FULL_WIDTH = {"|": "｜", "#": "＃"}


def escape_record_field(text: str) -> str:
    """A field that cannot break the `||` / `|#|` framing (PROTOCOL.md "/rd/").

    `|#|` and `||` become full width as PROTOCOL.md says; so does a `|` or `#`
    at either edge of the field, which would fuse with the separator beside
    it (`x|` + `||` reads `x|||`; `#` between two `||` reads `|#|`)."""
    text = text.replace("|#|", "｜#｜").replace("||", "｜｜")
    if text and text[0] in _FULL_WIDTH:
        text = _FULL_WIDTH[text[0]] + text[1:]
    if text and text[-1] in _FULL_WIDTH:
        text = text[:-1] + _FULL_WIDTH[text[-1]]
    return text


def escape_reply_field(text: str) -> str:
    """`||` and `{&}` inside a reply are written full width (spec §6.1, PROTOCOL.md "/rx/")."""
    return text.replace("||", "｜｜").replace("{&}", "｛＆｝")
