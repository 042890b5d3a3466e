"""UTF-8 sent without `encode=utf8` is read as UTF-8, and no GBK text is
misread (PROTOCOL.md "Transport", deliberate extension; issue 11, item 13).

Against: a corpus of real SMS texts (tests/unit/sms_corpus_zh.txt), every
pair of GB2312 characters in GBK, every GB2312 character alone in UTF-8, and
large samples of strings of common characters, both ways.
"""

from __future__ import annotations

import codecs
import logging
import random
import re
from pathlib import Path

import pytest

from hongyan.protocol import params as params_module
from hongyan.protocol.charset import looks_like_utf8
from hongyan.protocol.params import GB18030, GUESS, UTF8, Params, choose_encoding

CORPUS = [
    line.replace("\\n", "\n")
    for line in (Path(__file__).parent / "sms_corpus_zh.txt").read_text("utf-8").splitlines()
    if line and not line.startswith("#")
]


def _gb2312() -> list[bytes]:
    """The GBK bytes of every GB2312 character (rows A1-F7, columns A1-FE)."""
    codes = []
    for row in range(0xA1, 0xF8):
        for column in range(0xA1, 0xFF):
            code = bytes((row, column))
            try:
                code.decode("gb2312")
            except UnicodeDecodeError:
                continue
            codes.append(code)
    return codes


GB2312 = _gb2312()
# As GB18030 reads them (A1A4 is U+00B7 there, U+30FB in Python's gb2312 codec).
GB2312_CHARS = [code.decode("gb18030") for code in GB2312]
LEVEL_1 = [code.decode("gb18030") for code in GB2312 if 0xB0 <= code[0] <= 0xD7]
PUNCTUATION = [code.decode("gb18030") for code in GB2312 if code[0] in (0xA1, 0xA3)]
ASCII = list("0123456789abcXYZ ,.:;!?-_/@()")


def read(text_bytes: bytes, **extra: bytes) -> str:
    """`content` as the server reads it from a request without `encode`."""
    pairs = {b"uid": b"acme", b"mobile": b"13900008888", b"content": text_bytes}
    pairs.update((name.encode(), value) for name, value in extra.items())
    return Params(pairs, choose_encoding(pairs)).text("content")


def has_three_byte_char(text: str) -> bool:
    return any(ord(ch) >= 0x800 for ch in text)


def test_the_corpus_is_real_and_large() -> None:
    assert len(CORPUS) >= 400
    assert len(set(CORPUS)) == len(CORPUS)
    assert sum("【" in text for text in CORPUS) >= 200


@pytest.mark.parametrize("text", CORPUS, ids=[f"sms{i}" for i in range(len(CORPUS))])
def test_every_corpus_text_is_read_right_in_gbk_and_in_utf8(text: str) -> None:
    in_gbk = text.encode("gb18030")  # GBK where GBK holds the text, GB18030 beyond it
    assert not looks_like_utf8(in_gbk)
    assert read(in_gbk) == text
    if text.isascii():
        return
    assert read(text.encode("utf-8")) == text
    assert looks_like_utf8(text.encode("utf-8")) == has_three_byte_char(text)


def _starts_utf8(data: bytes) -> bool:
    """Whether some bytes could follow `data` to make valid UTF-8 (the codec says)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def test_no_pair_of_gb2312_characters_in_gbk_is_read_as_utf8() -> None:
    """All 55,428,025 pairs. The check begins with a strict UTF-8 decode: the
    pairs whose first character cannot begin UTF-8 are left out, the rest are
    decoded in bulk (one line a pair: no UTF-8 sequence spans a newline), and
    the whole check runs on each of the 957,156 pairs that decode."""
    decoded = 0
    misread: list[str] = []
    clean_line = re.compile(r"^[^\udc80-\udcff\n]+$", re.MULTILINE)
    for first in filter(_starts_utf8, GB2312):
        lines = first + (b"\n" + first).join(GB2312)
        text = lines.decode("utf-8", "surrogateescape")
        for match in clean_line.finditer(text):
            pair = match.group().encode("utf-8")
            decoded += 1
            if looks_like_utf8(pair):
                misread.append(pair.decode("gb18030"))
    assert decoded == 957_156  # 谢谢 (D0BB D0BB) reads "лл", 路路 "··" ...
    assert misread == []


def test_every_gb2312_character_in_utf8_is_read_as_utf8_unless_it_is_two_bytes() -> None:
    for char in GB2312_CHARS:
        for text in (char, char * 2, f"【{char}】", f"{char}1234"):
            assert looks_like_utf8(text.encode()) == has_three_byte_char(text), text


def test_a_sample_of_gb2312_pairs_in_utf8_is_read_as_utf8() -> None:
    rng = random.Random(11)
    for _ in range(200_000):
        pair = rng.choice(GB2312_CHARS) + rng.choice(GB2312_CHARS)
        assert looks_like_utf8(pair.encode()) == has_three_byte_char(pair), pair


def test_strings_of_common_characters_are_read_right_both_ways() -> None:
    """Level 1 characters, CJK and full-width punctuation, ASCII: never
    misread in GBK (no UTF-8 sequence of three bytes can start in them), and
    read as UTF-8 whenever one of them takes three bytes there."""
    rng = random.Random(12)
    pool = LEVEL_1 * 3 + PUNCTUATION + ASCII
    for _ in range(100_000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        assert not looks_like_utf8(text.encode("gb18030")), text
        assert looks_like_utf8(text.encode()) == has_three_byte_char(text), text


def test_strings_of_any_gb2312_characters_in_utf8_are_read_as_utf8() -> None:
    rng = random.Random(13)
    pool = GB2312_CHARS + ASCII
    for _ in range(100_000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        assert looks_like_utf8(text.encode()) == has_three_byte_char(text), text


@pytest.mark.parametrize(
    ("text", "utf8"),
    [
        ("您的验证码是 1234", True),
        ("好", True),
        ("👍", True),  # emoji alone: four bytes, never a GBK pair
        ("【鸿雁】©2024 ™ €5 • ✓", True),
        ("30°C", False),  # two-byte characters only: as GBK, as before ("30掳C")
        ("αβ", False),  # the same bytes as 伪尾 in GBK
        ("안녕하세요 你好", False),  # Hangul: `encode=utf8` is needed
        ("plain ascii", False),
    ],
)
def test_what_is_read_as_utf8(text: str, utf8: bool) -> None:
    assert looks_like_utf8(text.encode()) == utf8


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        *[(None, GUESS), (b"", GUESS), (b" ", GUESS), (b"utf8", UTF8), (b"UTF-8", UTF8)],
        *[(b"gbk", GB18030), (b"GBK", GB18030), (b"gb2312", GB18030), (b"big5", GB18030)],
    ],
)
def test_only_a_request_without_encode_is_guessed(encode: bytes | None, expected: str) -> None:
    pairs = {} if encode is None else {b"encode": encode}
    assert choose_encoding(pairs) == expected
    assert choose_encoding(pairs, utf8_implied=True) == UTF8  # /mtutf8/


def test_explicit_gbk_reads_utf8_bytes_as_gb18030() -> None:
    utf8 = "您好".encode()
    assert read(utf8) == "您好"
    assert read(utf8, encode=b"gbk") == utf8.decode("gb18030") == "鎮ㄥソ"


def test_the_whole_request_is_read_one_way() -> None:
    """A GBK full-width comma in `mobile` shows the request is GBK: its
    content is read as GB18030 too, although it would read as UTF-8 alone."""
    content = "您好".encode()
    assert read(content, mobile="13900008888，13900008889".encode("gbk")) == "鎮ㄥソ"
    assert read(content, mobile="13900008888，13900008889".encode()) == "您好"
    # Values the protocol does not read as text are no evidence either way.
    assert read(content, x=b"\xff\xfe") == "您好"


def test_the_guess_is_made_once_a_text_is_read_and_logged_at_debug(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bytes] = []
    monkeypatch.setattr(
        params_module, "looks_like_utf8", lambda data: calls.append(data) or looks_like_utf8(data)
    )
    pairs = {b"uid": b"acme", b"pwd": b"0" * 32, b"content": "验证码 4821".encode()}
    request = Params(pairs, choose_encoding(pairs))
    assert request.ascii("uid") == "acme"
    assert calls == [], "no guess before a text value is read"
    with caplog.at_level(logging.DEBUG, logger="hongyan.protocol.params"):
        assert request.text("content") == "验证码 4821"
        assert request.text("mobile") == ""
    assert len(calls) == 1
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert "UTF-8" in record.getMessage()
    assert "4821" not in record.getMessage()
