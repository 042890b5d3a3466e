"""CSV as Excel opens it: the byte order mark, quoting, no formulas."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Sequence
from zoneinfo import ZoneInfo

from hongyan.console import csv_export
from hongyan.console.csv_export import Cell


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def whole(header: Sequence[str], chunks: list[list[list[Cell]]]) -> bytes:
    async def source() -> AsyncIterator[list[list[Cell]]]:
        for chunk in chunks:
            yield chunk

    async def collect() -> bytes:
        return b"".join([part async for part in csv_export.stream(header, source())])

    return asyncio.run(collect())


def test_the_file_starts_with_the_utf8_mark_then_the_header() -> None:
    data = whole(["手机号码", "内容"], [[["13900001111", "您好"]], [["13900002222", None]]])
    assert data.startswith(b"\xef\xbb\xbf\xe6\x89\x8b")  # BOM, then 手
    assert data.count(b"\xef\xbb\xbf") == 1
    assert read(data) == [["手机号码", "内容"], ["13900001111", "您好"], ["13900002222", ""]]
    assert data.endswith(b"\r\n")


def test_commas_quotes_and_line_ends_survive_quoting() -> None:
    text = '第一行,"引号"\n第二行'
    data = whole(["t"], [[[text, 3]]])
    assert read(data)[1] == [text, "3"]
    assert b'"\xe7\xac\xac' in data  # the cell is quoted


def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe() -> None:
    for risky in ("=1+1", "+8613900001111", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        assert csv_export.safe_cell(risky) == "'" + risky
        assert read(whole(["t"], [[[risky]]]))[1] == ["'" + risky]
    for plain in ("13900001111", "好=1", "", "a-b"):
        assert csv_export.safe_cell(plain) == plain
    assert csv_export.safe_cell(-5) == -5 and csv_export.safe_cell(None) == ""


def test_the_filename_says_the_local_date_and_time() -> None:
    # 2026-11-30 04:05 UTC is 12:05 in Beijing.
    name = csv_export.filename("records", 1_796_011_500_000, ZoneInfo("Asia/Shanghai"))
    assert name == "records-20261130-1205.csv"
    assert csv_export.disposition(name) == 'attachment; filename="records-20261130-1205.csv"'
