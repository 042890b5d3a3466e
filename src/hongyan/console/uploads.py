"""Numbers as a customer brings them to the send page: pasted, or a file
(.txt, .csv, .xlsx) with one number a line or a column of numbers among
other columns; and what the preview shows of them (valid, invalid,
duplicated). Which number is valid is `core.numbers`' rule.

Everything here is CPU work proportional to the upload (100,000 numbers):
callers run it off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from hongyan.core.numbers import normalise
from hongyan.errors import InvalidInput

SUFFIXES = (".txt", ".csv", ".xlsx")
# Between pasted numbers: line breaks, commas and semicolons (ASCII and full
# width), tabs and spaces (a column copied from a spreadsheet, a list typed).
_SEPARATORS = re.compile(r"[\s,，;；、]+")
# Rows of a file read to find the column of numbers.
_SAMPLE_ROWS = 200


@dataclass(frozen=True, slots=True)
class Review:
    """The numbers of one send, before it is confirmed."""

    entries: tuple[str, ...]  # each once, in the order given (invalid ones too)
    valid: int
    invalid: tuple[str, ...]
    duplicates: tuple[str, ...]  # entries dropped as repeating an earlier one

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.duplicates)


def split_pasted(text: str) -> list[str]:
    return [entry for entry in _SEPARATORS.split(text) if entry]


def review(entries: Iterable[str]) -> Review:
    """Each number once (a number written two ways, `+86…` and `1…`, is one)."""
    kept: list[str] = []
    invalid: list[str] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    valid = 0
    for entry in entries:
        number = normalise(entry)
        key = number if number is not None else entry
        if key in seen:
            duplicates.append(entry)
            continue
        seen.add(key)
        kept.append(entry)
        if number is None:
            invalid.append(entry)
        else:
            valid += 1
    return Review(tuple(kept), valid, tuple(invalid), tuple(duplicates))


def read_file(filename: str, data: bytes) -> list[str]:
    """The numbers of an uploaded file, in order; `InvalidInput` when it cannot be read."""
    suffix = PurePath(filename.lower()).suffix
    if suffix == ".xlsx":
        return _column_of_numbers(_xlsx_rows(data))
    if suffix not in (".txt", ".csv"):
        raise InvalidInput("unsupported file type")
    text = _decode(data)
    if suffix == ".txt":
        return split_pasted(text)
    return _column_of_numbers(csv.reader(io.StringIO(text, newline="")))


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030: what Excel and WPS save in China."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not text in UTF-8 or GB18030") from None


def _xlsx_rows(data: bytes) -> Iterable[Sequence[Any]]:
    # Imported here: only an .xlsx upload pays for openpyxl's import.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types on a broken file: all are "unreadable"
        raise InvalidInput("the file is not a readable .xlsx workbook") from None
    try:
        sheet = book.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """A cell as text: a number Excel stored as a float (13800138000.0) loses its '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _column_of_numbers(rows: Iterable[Sequence[Any]]) -> list[str]:
    """The cells of the column holding the most valid numbers in the first
    rows; cells with no digit in it (a header, a blank) are left out."""
    texts = ([_cell_text(v) for v in row] for row in rows)
    sample: list[list[str]] = []
    for row in texts:
        sample.append(row)
        if len(sample) >= _SAMPLE_ROWS:
            break
    scores: dict[int, int] = {}
    for row in sample:
        for index, cell in enumerate(row):
            if normalise(cell) is not None:
                scores[index] = scores.get(index, 0) + 1
    # No valid number anywhere: the first column, so the preview says why.
    column = max(scores, key=lambda i: (scores[i], -i)) if scores else 0
    found: list[str] = []
    for row in _chain(sample, texts):
        if column < len(row) and any(ch.isdigit() for ch in row[column]):
            found.append(row[column])
    return found


def _chain(first: list[list[str]], rest: Iterable[list[str]]) -> Iterable[list[str]]:
    yield from first
    yield from rest
