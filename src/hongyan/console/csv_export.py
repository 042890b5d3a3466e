"""CSV as Excel opens it: UTF-8 with a byte order mark (without it Excel in
China reads the file as GBK and the Chinese comes out garbled), CRLF line
ends, and no cell that a spreadsheet would run as a formula.

Rows arrive in chunks and leave as bytes chunk by chunk, so an export of a
million rows never holds more than one chunk (see core/history.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

BOM = "\ufeff"
# A cell starting with one of these is run as a formula by Excel, LibreOffice
# and Google Sheets (OWASP "CSV Injection"): a reply text or a mobileid is
# whatever a stranger typed, so each gets a leading apostrophe instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | None


def safe_cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def lines(rows: Iterable[Sequence[Cell]]) -> str:
    """CSV text of some rows, each cell guarded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


async def stream(
    header: Sequence[str], chunks: AsyncIterator[Iterable[Sequence[Cell]]]
) -> AsyncIterator[bytes]:
    """The whole file as bytes: the mark and the header first, then a chunk at a time."""
    yield (BOM + lines([header])).encode("utf-8")
    async for rows in chunks:
        yield lines(rows).encode("utf-8")


def filename(stem: str, now_ms: int, zone: ZoneInfo) -> str:
    """`records-20261130-1205.csv`: the local date and time of the export."""
    moment = datetime.fromtimestamp(now_ms / 1000, zone)
    return f"{stem}-{moment:%Y%m%d-%H%M}.csv"


def disposition(name: str) -> str:
    """An attachment header; the name is ASCII, so no RFC 5987 form is needed."""
    return f'attachment; filename="{name}"'
