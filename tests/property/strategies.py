"""Hypothesis strategies: values real and broken clients send, and whole raw requests.

No generated request carries the byte `|` (nor `%7C`) anywhere: a `|` in a
stored content or number makes later `/rd/` answers of that account depend on
history, which would make failures of the fuzz tests irreproducible.
`test_fuzz_records.py` covers `|` on its own, one fresh number per example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_from_bytes, quote_plus, unquote_to_bytes
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from tests.property.wire import ENDPOINTS, NOT_UNKNOWN, RawRequest, pct, url_safe

BEIJING = ZoneInfo("Asia/Shanghai")


def chance(draw: st.DrawFn, k: int, n: int) -> bool:
    """True with probability k/n; shrinks to False (the simpler request)."""
    return draw(st.integers(0, n - 1)) >= n - k


# -- text -------------------------------------------------------------------------------

_CJK_COMMON = "发送测试短信验证码您的是请在分钟内输入如非本人操作忽略谢谢通知会员活动退订回复"
_FULL_WIDTH = "，。！？：；（）【】｛＆｝｜＃＋＝　"
_CONTROLS = "\x00\x01\x08\t\x0b\x0c\x1b\x7f\x85\x9f"

bmp_text_chars = st.one_of(
    st.sampled_from("abcXYZ0123456789 .,:;!?-_/@()[]{}'\"~^`<>$*"),
    st.sampled_from(_CJK_COMMON),
    st.sampled_from(_FULL_WIDTH),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("\n"),
)
any_chars = st.one_of(
    bmp_text_chars,
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F),  # emoji: not in GBK
    st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF),  # rare CJK: not in GBK
    st.sampled_from(_CONTROLS + "\r"),
    st.characters(exclude_categories=("Cs",), exclude_characters="|"),
)

# Content a client could mean: no control characters (but newline), never blank.
clean_content = st.one_of(
    st.text(bmp_text_chars, min_size=1, max_size=40),
    st.text(bmp_text_chars, min_size=60, max_size=210),
    st.text(
        st.one_of(bmp_text_chars, st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F)),
        min_size=1,
        max_size=80,
    ),
).filter(lambda s: s.strip() != "")

content_texts = st.one_of(
    clean_content,
    clean_content,
    clean_content,
    st.text(any_chars, max_size=60),
    st.builds(lambda ch, n: ch * n, st.sampled_from("长a短😀"), st.integers(490, 520)),
    st.sampled_from(["", " ", "\n", "\r\n", "　"]),
)

# -- numbers --------------------------------------------------------------------------

valid_mobiles = st.builds(
    lambda prefix, second, rest: f"{prefix}1{second}{rest}",
    st.sampled_from(["", "", "", "+86", "86", "0086"]),
    st.sampled_from("3456789"),
    st.from_regex(r"[0-9]{9}", fullmatch=True),
)
fixed_lines = st.from_regex(r"0[1-9][0-9]{1,2}[0-9]{7,8}", fullmatch=True)
# A few numbers the limited accounts hit again and again (per-number limits).
hot_numbers = st.sampled_from(["13900000001", "13900000002", "+8613900000003"])
# Invalid under the spec, whatever its reader: letters, wrong lengths, bad prefixes.
invalid_entries = st.one_of(
    st.sampled_from(
        ["1390000test", "12345678901", "139000088889", "1390000888", "10086", "abc", "+1-555-0100"]
    ),
    st.from_regex(r"1[3-9][0-9]{4}[a-z][0-9]{4}", fullmatch=True),
    st.text(st.sampled_from("0123456789+-#*abc测"), min_size=1, max_size=14),
)
# ASCII digits swapped for full-width or Arabic-Indic ones: not the spec's digits.
lookalike_mobiles = st.builds(
    lambda number, index, digit: number[:index] + digit + number[index + 1 :],
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.integers(2, 10),
    st.sampled_from("０１２３４５６７８９٠١٢٣٤٥٦٧٨٩"),
)
number_entries = st.one_of(
    valid_mobiles, valid_mobiles, fixed_lines, hot_numbers, invalid_entries, lookalike_mobiles
)
separators = st.sampled_from([",", ",", ",", "，", ", ", " ,", ",\t", "，　"])
blanks = st.sampled_from(["", "", "", " ", "\t", "　", "\u00a0", "\n"])


@st.composite
def mobile_lists(
    draw: st.DrawFn, entries: st.SearchStrategy[str] = number_entries, min_size: int | None = None
) -> str:
    if chance(draw, 1, 20):
        # Over the limits: 50 by GET, 2000 by POST.
        count = draw(st.sampled_from([51, 55, 2001]))
        return ",".join(f"139{i:08d}" for i in range(count))
    if min_size is None:
        min_size = draw(st.sampled_from([1, 1, 1, 0]))
    items = draw(st.lists(entries, min_size=min_size, max_size=6))
    out = ""
    for i, item in enumerate(items):
        if i:
            out += draw(separators)
        out += draw(blanks) + item + draw(blanks)
    return out


# -- other parameters ------------------------------------------------------------------


def _beijing(delta: timedelta, fmt: str) -> str:
    return (datetime.now(BEIJING) + delta).strftime(fmt)


TIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"]
good_times = st.builds(
    _beijing,
    st.sampled_from(
        [timedelta(days=-400), timedelta(minutes=-5), timedelta(hours=2), timedelta(days=29)]
    ),
    st.sampled_from(TIME_FORMATS),
)
times = st.one_of(
    st.just(""),
    good_times,
    st.builds(_beijing, st.just(timedelta(days=31)), st.sampled_from(TIME_FORMATS)),
    st.sampled_from(
        [
            "2010-05-27 12:01",
            "0001-01-01 00:00",
            "9999-12-31 23:59",
            "2024-02-30 10:00",
            "2024-13-01 10:00",
            "tomorrow",
            "20240101",
            "  ",
            "2024/01/01 10:00",
        ]
    ),
    st.text(any_chars, max_size=20),
)
mobileid_lists = st.one_of(
    st.just(""),
    st.lists(st.from_regex(r"[0-9A-Za-z_-]{0,40}", fullmatch=True), max_size=4).map(",".join),
    st.sampled_from(["PHP1402A", "1390000888812869461937", "x" * 41, "a b", "ü", "1，2"]),
    st.text(any_chars, max_size=20),
)
mids = st.one_of(
    st.from_regex(r"[0-9]{0,8}", fullmatch=True),
    st.sampled_from(["", " 12 ", "-1", "1e3", "١٢"]),
    st.text(any_chars, max_size=8),
)
encodes = st.sampled_from(
    ["utf8", "UTF8", "utf-8", "Utf-8", " utf8 ", "gbk", "GBK", "gb2312", "gb18030", "big5", "", "x"]
)
pages = st.one_of(
    st.integers(-3, 5).map(str),
    st.sampled_from(["", "0", "01", "1.5", "1e3", "abc", " 2", "２", "99999", "9" * 25]),
)
DATES = ["", "2012-12-12", "2012-13-12", "2012-02-30", "20121212", "0001-01-01", "9999-12-31"]
dates = st.one_of(
    st.sampled_from(DATES),
    st.builds(
        lambda d: (datetime.now(BEIJING) + timedelta(days=d)).strftime("%Y-%m-%d"),
        st.integers(-3, 1),
    ),
    st.text(any_chars, max_size=12),
)
keys = st.one_of(valid_mobiles, invalid_entries, st.just(""), st.text(any_chars, max_size=12))
cmds = st.sampled_from(["send", "SEND", "Send", " send ", "", "sent", "balance"])

# Values at the edges of what the server must read, drawn as often as all others.
EDGES: dict[bytes, list[str]] = {
    b"mid": ["", "0", "123456", "1234567", "١٢", "１２"],
    b"time": [
        "0001-01-01 00:00",
        "9999-12-31 23:59",
        "1970-01-01 08:00",
        "2038-01-19 11:14:08",
        "99991231235959",
        "00000000000000",
        "２０２４-01-01 10:00",
    ],
    b"page": ["0", "-1", "9" * 25, "1" + "0" * 18, "２", "99999"],
    b"date": ["9999-12-31", "0001-01-01", "1970-01-01", "2038-01-19", "２０１２-12-12"],
    b"key": ["0", "+86", "１３９００００８８８８", "%", "_", "*"],
}
TEXT_PARAMS: dict[bytes, st.SearchStrategy[str]] = {
    name: st.one_of(st.sampled_from(EDGES[name]), strategy) if name in EDGES else strategy
    for name, strategy in {
        b"mobile": mobile_lists(),
        b"content": content_texts,
        b"mobileids": mobileid_lists,
        b"mid": mids,
        b"time": times,
        b"page": pages,
        b"date": dates,
        b"key": keys,
        b"cmd": cmds,
    }.items()
}


TIDY_PARAMS: dict[bytes, st.SearchStrategy[str]] = {
    b"mobile": mobile_lists(
        st.one_of(valid_mobiles, fixed_lines, hot_numbers, invalid_entries), min_size=1
    ),
    b"content": clean_content,
    b"mobileids": st.lists(st.from_regex(r"[0-9A-Za-z_-]{0,40}", fullmatch=True), max_size=4).map(
        ",".join
    ),
    b"mid": st.from_regex(r"[0-9]{0,6}", fullmatch=True),
    b"time": st.one_of(st.just(""), good_times),
}
RELEVANT = {
    "mt": (b"mobile", b"content"),
    "mtutf8": (b"mobile", b"content"),
    "mm": (b"cmd",),
    "rd": (b"page", b"date", b"key"),
}


def no_bar(data: bytes) -> bytes:
    """The bytes without `|`, raw or percent-encoded (see the module's docstring)."""
    return re.sub(rb"%7[cC]", b"%2F", data.replace(b"|", b"/"))


@st.composite
def encoded(draw: st.DrawFn, text: str, charset: str, tidy: bool = False) -> bytes:
    """A text as a client would put it on the wire: mostly in `charset`, sometimes not."""
    way = "charset"
    if not tidy:
        way = draw(st.sampled_from(["charset"] * 16 + ["gbk", "utf-8", "utf-16", "binary"]))
    if way == "binary":
        return draw(st.binary(max_size=24))
    if way == "charset":
        way = charset
    if way == "gbk":
        try:
            return text.encode("gbk")
        except UnicodeEncodeError:
            return text.encode("gb18030")
    return text.encode(way)


# -- whole requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    account: str | None  # the pool account whose valid credentials are sent, else None
    pairs: list[tuple[bytes, bytes]]  # raw (uid, pwd) pairs as sent, possibly overridden
    describe: str


@dataclass(frozen=True)
class Case:
    request: RawRequest
    endpoint: str | None  # "mt", "mtutf8", "mm", "rd"; None for an unknown path
    credentials: Credentials
    method: str
    multipart: bool  # the Content-Type is multipart: a broken body may be 103

    @property
    def raw(self) -> bytes:
        return self.request.encode()

    @property
    def sending(self) -> bool:
        return self.endpoint in ("mt", "mtutf8")


VALID_ACCOUNTS = ["rich"] * 8 + ["limited"] * 4 + ["poor"] * 2 + ["frozen", "bound", "nosend"]


@st.composite
def credentials(
    draw: st.DrawFn, pool: dict[str, tuple[str, str]], only: list[str] | None = None
) -> Credentials:
    """`pool`: account key → (uid, pwd); `only`: valid credentials of these accounts."""
    kinds = ["valid"] * 10 + ["upper", "wrong", "unknown", "none", "garbage"]
    kind = draw(st.sampled_from(kinds if only is None else ["valid", "valid", "upper"]))
    if kind in ("valid", "upper"):
        key = draw(st.sampled_from(only or VALID_ACCOUNTS))
        uid, pwd = pool[key]
        pwd = pwd.upper() if kind == "upper" else pwd
        return Credentials(key, [(b"uid", uid.encode()), (b"pwd", pwd.encode())], kind)
    if kind == "wrong":
        uid, pwd = pool["victim"]
        wrong = draw(
            st.one_of(
                st.from_regex(r"[0-9a-f]{32}", fullmatch=True).filter(lambda p: p != pwd),
                st.just(pwd[:-1] + ("0" if pwd[-1] != "0" else "1")),
                st.just(pwd[:31]),
                st.just(pwd + "0"),
                st.just(pool["rich"][1]),
                st.just(""),
            )
        )
        return Credentials(None, [(b"uid", uid.encode()), (b"pwd", wrong.encode())], kind)
    if kind == "unknown":
        uid = "zz" + draw(st.from_regex(r"[a-z0-9_]{0,12}", fullmatch=True))
        pwd = draw(st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
        return Credentials(None, [(b"uid", uid.encode()), (b"pwd", pwd.encode())], kind)
    if kind == "none":
        pairs = draw(st.sampled_from([[], [(b"uid", b"")], [(b"uid", b""), (b"pwd", b"")]]))
        return Credentials(None, pairs, kind)
    uid = b"zz" + no_bar(draw(st.binary(max_size=12)))
    return Credentials(None, [(b"uid", uid), (b"pwd", no_bar(draw(st.binary(max_size=34))))], kind)


def _encode_pair(draw: st.DrawFn, name: bytes, value: bytes, *, in_url: bool, bars: bool) -> bytes:
    mode = draw(st.sampled_from(["quote", "quote", "plus", "all", "all-lower", "raw"]))
    if len(value) > 2000:
        # Keep a request line under the HTTP server's 64 KB: 2001 numbers fit only so.
        mode = "quote"
    if mode == "quote":
        data = quote_from_bytes(value, safe="").encode()
    elif mode == "plus":
        data = quote_plus(value, safe="").encode()
    elif mode == "all":
        data = pct(value)
    elif mode == "all-lower":
        data = pct(value, upper=False)
    else:  # raw: a sloppy client that encodes nothing
        data = url_safe(value) if in_url else value
    if mode != "raw":
        name = quote_from_bytes(name, safe="").encode()
    elif in_url:
        name = url_safe(name)
    return name + b"=" + data if bars else no_bar(name) + b"=" + no_bar(data)


_JUNK_PAIRS = [b"", b"&", b"=", b"==", b"a", b"&&&", b"%", b"%zz", b"%%", b"+=+", b"x=%G1"]


@st.composite
def urlencoded(
    draw: st.DrawFn, pairs: list[tuple[bytes, bytes]], *, in_url: bool, bars: bool = False
) -> bytes:
    """`name=value&...`, each pair encoded its own way; `bars` keeps `|` (and `%7C`)."""
    parts = [_encode_pair(draw, name, value, in_url=in_url, bars=bars) for name, value in pairs]
    if chance(draw, 1, 4):
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(_JUNK_PAIRS)))
    return b"&".join(parts)


_BOUNDARY = st.from_regex(r"[0-9A-Za-z'()+_,\-./:=?]{1,60}", fullmatch=True).filter(
    lambda b: not b.endswith(" ")
)


@st.composite
def multipart(draw: st.DrawFn, pairs: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """(content type, body) of a well-formed multipart/form-data body."""
    boundary = draw(_BOUNDARY).encode()
    parts = []
    for name, value in pairs:
        name = re.sub(rb'[\r\n"\\]', b"_", name)  # a field name as a browser escapes it
        head = b'Content-Disposition: form-data; name="' + name + b'"'
        if chance(draw, 1, 6):
            head += b'; filename="a.txt"\r\nContent-Type: text/plain; charset=GBK'
        parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n")
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    media = draw(st.sampled_from([b"multipart/form-data", b"Multipart/Form-Data"]))
    # RFC 2046: a boundary with characters outside a token must be quoted.
    quoted = draw(st.booleans()) or re.search(rb"[()<>@,;:\\\"/\[\]?= ]", boundary) is not None
    content_type = media + b"; boundary=" + (b'"' + boundary + b'"' if quoted else boundary)
    if draw(st.booleans()):
        content_type += draw(st.sampled_from([b"; charset=UTF-8", b"; charset=GBK"]))
    return content_type, body


FORM_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=UTF-8",
    b"application/x-www-form-urlencoded; charset=GBK",
    b"APPLICATION/X-WWW-FORM-URLENCODED",
    b"text/plain",
    b"application/json",
    b"text/html; charset=utf-8",
    b"",
    None,
]
RANDOM_TYPES = [
    b"application/octet-stream",
    b"text/plain; charset=ISO-8859-1",
    b"application/json",
    b"application/xml",
    b"multipart/form-data",
    b"multipart/form-data; boundary=",
    b"multipart/form-data; boundary=xyz",
    b"multipart/mixed; boundary=xyz",
    b"image/png",
    b";;;",
    b"\xb7\xa2\xcb\xcd",
]


def unknown_paths() -> st.SearchStrategy[bytes]:
    segment = st.one_of(
        st.sampled_from(
            [
                b"",
                b"MT",
                b"Mt",
                b"mt",
                b"mm",
                b"rd",
                b"mtutf8",
                b"index.php",
                b"..",
                b".",
                b"%2e",
                b"%20",
                b"%B7%A2",
                b"%ff",
                b"api",
                b"sms",
                b"mt%2F",
                b"mt.php",
            ]
        ),
        st.from_regex(r"[A-Za-z0-9._~!$'()*+,;=:@-]{1,10}", fullmatch=True).map(str.encode),
    )
    return (
        st.lists(segment, min_size=1, max_size=3)
        .map(lambda segs: b"/" + b"/".join(segs) + (b"/" if segs[-1] else b""))
        .filter(_is_unknown)
    )


def _is_unknown(path: bytes) -> bool:
    # The server routes on the percent-decoded path (uvicorn decodes it as UTF-8).
    decoded = unquote_to_bytes(path).decode("utf-8", "replace")
    return decoded not in ENDPOINTS and decoded not in NOT_UNKNOWN


@st.composite
def requests(
    draw: st.DrawFn,
    pool: dict[str, tuple[str, str]],
    *,
    raw_url_bytes: bool = False,
    unknown: bool = True,
    accounts: list[str] | None = None,
    paths: list[str] | None = None,
) -> Case:
    """Any request a client, sloppy or broken, could send to the customer API.

    With `raw_url_bytes`, values in the query string may carry raw bytes 0x80-0xFF
    unencoded (PROTOCOL.md: "raw GBK or UTF-8 bytes in the URL").
    """
    if unknown and chance(draw, 1, 10):
        path, endpoint = draw(unknown_paths()), None
    else:
        path = draw(st.sampled_from(paths or [*sorted(ENDPOINTS), "/mt/", "/mt/", "/mtutf8/"]))
        path = path.encode()
        endpoint = ENDPOINTS[path.decode()]
    method = draw(
        st.sampled_from(["GET"] * 10 + ["POST"] * 12 + ["PUT", "DELETE", "PATCH", "OPTIONS"])
    )
    creds = draw(credentials(pool, accounts))

    # Text parameters, encoded in the request's charset (or not).
    charset = draw(st.sampled_from(["gbk", "gbk", "utf-8"]))
    if endpoint == "mtutf8":
        charset = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "gbk"]))
    params: list[tuple[bytes, bytes]] = []
    if charset == "utf-8" and endpoint != "mtutf8" and chance(draw, 4, 5):
        params.append((b"encode", draw(st.sampled_from(["utf8", "UTF-8", "utf-8", " Utf8 "]))))
    elif chance(draw, 1, 6):
        params.append((b"encode", draw(encodes)))
    params = [(n, v.encode()) for n, v in params]
    relevant = RELEVANT.get(endpoint or "", ())
    tidy = chance(draw, 1, 2)  # parameters a careful client sends: most /mt/ get 100
    for name, strategy in TEXT_PARAMS.items():
        # Shrinks to a request with the endpoint's own parameters and no others.
        if not chance(draw, 1, 10) if name in relevant else chance(draw, 3, 10):
            text = draw(TIDY_PARAMS.get(name, strategy) if tidy else strategy)
            params.append((name, no_bar(draw(encoded(text, charset, tidy)))))
    for _ in range(draw(st.integers(0, 2))):
        name = b"x" + no_bar(draw(st.binary(max_size=6)))
        params.append((name, no_bar(draw(st.binary(max_size=16)))))

    body_kind = draw(
        st.sampled_from(["none"] * 4 + ["form"] * 4 + ["multipart"] * 2 + ["broken", "binary"])
    )
    headers: list[tuple[bytes, bytes]] = []
    body = b""
    query_pairs, body_pairs = [], []
    creds_pairs = list(creds.pairs)
    if body_kind in ("form", "multipart"):
        for pair in params:
            where = draw(st.sampled_from(["query", "body", "body", "both"]))
            if where in ("query", "both"):
                query_pairs.append(pair)
            if where in ("body", "both"):
                body_pairs.append(pair)
        where = draw(st.sampled_from(["query", "body", "split", "override"]))
        if where == "query":
            query_pairs = creds_pairs + query_pairs
        elif where == "body":
            body_pairs = creds_pairs + body_pairs
        elif where == "split":
            query_pairs = creds_pairs[:1] + query_pairs
            body_pairs = creds_pairs[1:] + body_pairs
        else:
            # The body wins over the query string: the query's uid/pwd must not count.
            other = pool["victim"] if creds.account is not None else pool["rich"]
            decoy = [(b"uid", other[0].encode()), (b"pwd", other[1].encode())]
            if creds.account is not None:
                decoy = [(b"uid", other[0].encode()), (b"pwd", b"0" * 32)]
            query_pairs = decoy + query_pairs
            body_pairs = creds_pairs + body_pairs
            if not creds_pairs:
                body_pairs = [(b"uid", b""), (b"pwd", b""), *body_pairs]
    else:
        query_pairs = creds_pairs + params
    query_pairs = draw(st.permutations(query_pairs))
    body_pairs = draw(st.permutations(body_pairs))

    multipart_type = False
    if body_kind == "form":
        body = draw(urlencoded(body_pairs, in_url=False))
        content_type = draw(st.sampled_from(FORM_TYPES))
        if content_type is not None:
            headers.append((b"Content-Type", content_type))
    elif body_kind == "multipart":
        content_type, body = draw(multipart(body_pairs))
        headers.append((b"Content-Type", content_type))
        multipart_type = True
    elif body_kind == "broken":
        content_type, whole = draw(multipart(draw(st.permutations(params))[:3]))
        cut = draw(st.integers(0, len(whole)))
        body = draw(st.sampled_from([whole[:cut], no_bar(draw(st.binary(max_size=200)))]))
        content_type = draw(st.sampled_from([content_type, b"multipart/form-data"]))
        headers.append((b"Content-Type", content_type))
        multipart_type = True
    elif body_kind == "binary":
        body = no_bar(draw(st.binary(max_size=300)))
        content_type = draw(st.sampled_from(RANDOM_TYPES))
        headers.append((b"Content-Type", content_type))
        multipart_type = b"multipart" in content_type.lower()

    query = draw(urlencoded(query_pairs, in_url=True))
    if raw_url_bytes:
        query = _raw_high_bytes(query)
    target = path
    if query or draw(st.booleans()):
        target += b"?" + query

    if chance(draw, 1, 8):
        hops = draw(st.sampled_from([b"10.9.9.9", b"10.9.9.9, 127.0.0.1", b"1.2.3.4", b"junk"]))
        headers.append((b"X-Forwarded-For", hops))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 5 + [b"HTTP/1.0"]))
    chunks = None
    if body and version == b"HTTP/1.1" and chance(draw, 1, 6):
        chunks = draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))
    request = RawRequest(
        method.encode(),
        target,
        body,
        headers,
        version,
        chunks,
        content_length=bool(body) or draw(st.booleans()),
    )
    return Case(request, endpoint, creds, method, multipart_type)


def _raw_high_bytes(query: bytes) -> bytes:
    """Percent-escapes of bytes 0x80-0xFF written as the raw bytes themselves."""
    return re.sub(rb"%([89A-Fa-f][0-9A-Fa-f])", lambda m: bytes([int(m.group(1), 16)]), query)
