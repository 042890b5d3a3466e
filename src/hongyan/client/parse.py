"""Pure parsers of the protocol's answers: bytes in, models out, or an exception.

Answers are read by their bytes as GBK (decoded with GB18030, its superset;
an undecodable byte becomes U+FFFD rather than losing a batch of reports that
the server will not hand out again). Every parser first looks for a refusal:

    sms&stat=101&message=验证失败     /mt/ /st/ /mm/ /rd/
    101                                /rx/ (bare code; the table gives the text)

and raises its `StatusError` subclass. An answer in no known form raises
`UnexpectedAnswer` with the raw bytes, so nothing handed out is lost unseen.

    >>> parse_reports(b"13900008888,100,a1,2024-06-01 12:00:00", zone=None)
    [StatusReport(mobile='13900008888', status='100', mobileid='a1', time=datetime...)]
    >>> parse_remain(b"sms&stat=100&remain=98")
    98
    >>> parse_replies(b"101")
    Traceback (most recent call last):
    hongyan.client.errors.AuthFailed: 101 验证失败

The parsers are lenient where reading is still unambiguous: blanks around
fields (the document's own /st/ example has `, 2011-03-11 11:22:11`), `\\r\\n`
line ends, a trailing newline, times without seconds, `100||N` balances of
sister platforms, and `||` / `|#|` / `{&}` / a line break left unescaped
inside a field.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from hongyan.client.errors import StatusError, UnexpectedAnswer, error_for
from hongyan.client.models import Record, RecordPage, Reply, StatusReport

__all__ = [
    "BEIJING",
    "decode",
    "parse_records",
    "parse_remain",
    "parse_replies",
    "parse_reports",
    "parse_send",
    "parse_time",
    "refusal",
]

BEIJING = ZoneInfo("Asia/Shanghai")
"""The protocol's time zone on api.sms.cn."""

OK = 100
_BARE_CODE = re.compile(r"[0-9]{3}")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S")
_RECORD_START = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:]+\s*\|\|")
_SISTER_REMAIN = re.compile(r"100\|\|(-?[0-9]+)")


def decode(body: bytes) -> str:
    """The answer's text: GBK (read as GB18030), without a BOM or surrounding line ends."""
    return body.decode("gb18030", "replace").removeprefix("\ufeff").strip("\r\n\t ")


def _fields(text: str) -> dict[str, str] | None:
    """`sms&stat=100&message=发送成功` as {"stat": "100", "message": "发送成功"}, else None.

    The last field keeps any `&` of its own (a message text may hold one)."""
    if not text.startswith("sms&"):
        return None
    fields: dict[str, str] = {}
    rest = text[4:]
    while rest:
        head, _, tail = rest.partition("&")
        name, sep, value = head.partition("=")
        if not sep:
            break
        if name in ("message", "remain") or not tail:
            value = rest.partition("=")[2]
            fields[name] = value
            break
        fields[name] = value
        rest = tail
    return fields if "stat" in fields else None


def refusal(text: str) -> StatusError | None:
    """The error a refusal answer stands for, or None if `text` is not one."""
    fields = _fields(text)
    if fields is not None:
        stat = fields["stat"].strip()
        if stat.isdigit() and int(stat) != OK:
            return error_for(int(stat), fields.get("message"))
        return None
    if _BARE_CODE.fullmatch(text) and int(text) != OK:
        return error_for(int(text))
    return None


def _checked(body: bytes) -> str:
    text = decode(body)
    error = refusal(text)
    if error is not None:
        raise error
    return text


def _is_ok_answer(text: str) -> bool:
    """`sms&stat=100...` or a bare `100`: success without data."""
    fields = _fields(text)
    return text == str(OK) or (fields is not None and fields["stat"].strip() == str(OK))


def parse_time(text: str, zone: tzinfo | None = BEIJING, *, body: bytes = b"") -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (also `HH:MM`, `YYYYMMDDHHMMSS`) as a datetime in `zone`."""
    raw = text.strip()
    for fmt in _TIME_FORMATS:
        try:
            moment = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        return moment if zone is None else moment.replace(tzinfo=zone)
    raise UnexpectedAnswer(f"unreadable time {raw!r}", body)


def parse_send(body: bytes) -> str:
    """A /mt/ answer: the success text (`发送成功`), or raises."""
    text = _checked(body)
    if not _is_ok_answer(text):
        raise UnexpectedAnswer(f"not a /mt/ answer: {text[:80]!r}", body)
    fields = _fields(text)
    return (fields or {}).get("message") or "发送成功"


def parse_remain(body: bytes) -> int:
    """A /mm/ answer `sms&stat=100&remain=N` (or `100||N`): N."""
    text = _checked(body)
    fields = _fields(text)
    value = fields.get("remain") if fields is not None else None
    if value is None and (match := _SISTER_REMAIN.fullmatch(text)):
        value = match.group(1)
    try:
        return int((value or "").strip())
    except ValueError:
        raise UnexpectedAnswer(f"not a /mm/ answer: {text[:80]!r}", body) from None


def parse_reports(body: bytes, zone: tzinfo | None = BEIJING) -> list[StatusReport]:
    """A /st/ answer: `mobile,status,mobileid,YYYY-MM-DD HH:MM:SS` lines, or empty."""
    text = _checked(body)
    if not text or _is_ok_answer(text):
        return []
    reports: list[StatusReport] = []
    pending = ""
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if not pending and not line.strip():
            continue
        # A line break inside a field (a number sent as `12\n34` comes back
        # as written) splits a report in two: glue lines until one reads.
        pending = f"{pending}\n{line}" if pending else line
        report = _report(pending, zone)
        if report is not None:
            reports.append(report)
            pending = ""
    if pending.strip():
        raise UnexpectedAnswer(f"not a /st/ line: {pending[:80]!r}", body)
    return reports


def _report(line: str, zone: tzinfo | None) -> StatusReport | None:
    mobile, _, rest = line.partition(",")
    status, _, rest = rest.partition(",")
    mobileid, comma, time = rest.rpartition(",")
    if not comma:
        return None
    try:
        when = parse_time(time, zone)
    except UnexpectedAnswer:
        return None
    return StatusReport(mobile.strip(), status.strip(), mobileid.strip(), when)


def parse_replies(body: bytes, zone: tzinfo | None = BEIJING) -> list[Reply]:
    """A /rx/ answer: `100{&}mobile||content||time||gateway{&}...`, or empty."""
    text = _checked(body)
    if not text or text == str(OK) or _is_ok_answer(text):
        return []
    head, sep, rest = text.partition("{&}")
    if head.strip() != str(OK) or not sep:
        raise UnexpectedAnswer(f"not a /rx/ answer: {text[:80]!r}", body)
    replies: list[Reply] = []
    pending = ""
    for piece in rest.split("{&}"):
        # A `{&}` a server left unescaped inside a content splits a reply in
        # two: glue pieces until they make a whole one.
        pending = f"{pending}{{&}}{piece}" if pending else piece
        reply = _reply(pending, zone)
        if reply is not None:
            replies.append(reply)
            pending = ""
    if pending.strip():
        raise UnexpectedAnswer(f"not a /rx/ reply: {pending[:80]!r}", body)
    return replies


def _reply(text: str, zone: tzinfo | None) -> Reply | None:
    fields = text.split("||")
    if len(fields) < 4:
        return None
    try:
        when = parse_time(fields[-2], zone)
    except UnexpectedAnswer:
        return None
    # An unescaped `||` inside the content: the middle fields are all content.
    content = "||".join(fields[1:-2])
    return Reply(fields[0].strip(), content, when, fields[-1].strip())


def parse_records(body: bytes, zone: tzinfo | None = BEIJING, *, page: int = 1) -> RecordPage:
    """A /rd/ answer: `total||count||pages|#|time||mobile||content||status|#|...`, or empty."""
    text = _checked(body)
    if not text or _is_ok_answer(text):
        return RecordPage(total=0, pages=0, records=(), page=page)
    head, *pieces = text.split("|#|")
    numbers = head.split("||")
    if len(numbers) != 3 or not all(n.strip().isdigit() for n in numbers):
        raise UnexpectedAnswer(f"not a /rd/ answer: {text[:80]!r}", body)
    total, _count, pages = (int(n) for n in numbers)
    raw: list[str] = []
    for piece in pieces:
        if raw and not _RECORD_START.match(piece):
            raw[-1] += "|#|" + piece  # an unescaped `|#|` inside a content
        elif piece.strip():
            raw.append(piece)
    return RecordPage(total, pages, tuple(_record(r, zone, body) for r in raw), page)


def _record(text: str, zone: tzinfo | None, body: bytes) -> Record:
    fields = text.split("||")
    if len(fields) < 4:
        raise UnexpectedAnswer(f"not a /rd/ record: {text[:80]!r}", body)
    when = parse_time(fields[0], zone, body=body)
    return Record(when, fields[1].strip(), "||".join(fields[2:-1]), fields[-1].strip())
