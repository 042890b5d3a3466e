"""Numbers brought to the send page: pasted, or a .txt, .csv or .xlsx file with
one number a line or a column of numbers among other columns."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from hongyan.console import uploads
from hongyan.errors import InvalidInput


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_pasted_numbers_split_on_lines_commas_and_blanks() -> None:
    text = "13800138000\n13900139000，+8613700137000; 02185418874\t 1860018600\r\n\n"
    assert uploads.split_pasted(text) == [
        "13800138000",
        "13900139000",
        "+8613700137000",
        "02185418874",
        "1860018600",
    ]


def test_review_keeps_each_number_once_and_lists_invalid_and_duplicates() -> None:
    found = uploads.review(
        ["13800138000", "abc", "+8613800138000", "13900139000", "abc", "1860018600"]
    )
    assert found.entries == ("13800138000", "abc", "13900139000", "1860018600")
    assert found.valid == 2
    assert found.invalid == ("abc", "1860018600")
    assert found.duplicates == ("+8613800138000", "abc")
    assert found.total == 6


def test_a_txt_file_is_one_number_a_line() -> None:
    data = "\ufeff13800138000\r\n13900139000\r\n\r\n12345\n".encode()
    assert uploads.read_file("list.TXT", data) == ["13800138000", "13900139000", "12345"]


def test_a_csv_file_in_gb18030_gives_its_column_of_numbers() -> None:
    data = "姓名,手机号,备注\n张三,13800138000,VIP\n李四,13900139000,\n王五,1390013,坏号\n".encode(
        "gb18030"
    )
    # The header and the other columns are left out; an invalid number in the column stays.
    assert uploads.read_file("客户.csv", data) == ["13800138000", "13900139000", "1390013"]


def test_an_xlsx_file_gives_the_column_holding_numbers() -> None:
    rows: list[list[object]] = [["编号", "姓名", "手机"]]
    rows += [[i, f"客户{i}", 13800000000 + i] for i in range(1, 6)]
    rows += [[6, "客户6", "+86 138"], [7, "客户7", 13800000001.0], [8, "客户8", None]]
    assert uploads.read_file("book.xlsx", xlsx(rows)) == [
        "13800000001",
        "13800000002",
        "13800000003",
        "13800000004",
        "13800000005",
        "+86 138",
        "13800000001",  # a number stored as a float loses its ".0"
    ]


def test_a_file_that_is_not_what_its_name_says_is_refused() -> None:
    with pytest.raises(InvalidInput):
        uploads.read_file("numbers.xlsx", b"13800138000\n")
    with pytest.raises(InvalidInput):
        uploads.read_file("numbers.doc", b"13800138000\n")
    with pytest.raises(InvalidInput):
        uploads.read_file("numbers.txt", b"\xff\xfe\x00\xd8\x00")
