"""`hongyan ledger ...`: finance reports and the check that the ledger sums to
every balance (core/finance.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated
from zoneinfo import ZoneInfo

import typer

from hongyan.cli.common import fail, with_database
from hongyan.config import Settings
from hongyan.console import csv_export
from hongyan.core.audit import Actor
from hongyan.core.finance import (
    CSV_HEADER,
    Difference,
    Finance,
    LedgerCheck,
    Problem,
    ReportQuery,
    Tally,
    csv_cells,
    report_query,
)
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

ledger_app = typer.Typer(no_args_is_help=True, help="Finance reports and the ledger check")

_COLUMNS = ("period", "account", "charged", "refunded", "net", "topped up", "deducted")
_WIDTHS = (10, 20, 12, 12, 12, 12, 12)


def _line(cells: tuple[str | int, ...]) -> str:
    return "  ".join(
        str(c).ljust(w) if i < 2 else str(c).rjust(w)
        for i, (c, w) in enumerate(zip(cells, _WIDTHS, strict=True))
    ).rstrip()


async def _print(finance: Finance, query: ReportQuery) -> int:
    typer.echo(_line(_COLUMNS))
    tally = Tally()
    count = 0
    async for rows in finance.rows(query):
        for r in rows:
            typer.echo(_line(csv_cells(r)))
            tally.add(r)
            count += 1
    typer.echo(_line(csv_cells(tally.totals())))
    return count


async def _write_csv(finance: Finance, query: ReportQuery, out: IO[bytes]) -> None:
    lines = await finance.export(Actor.cli(), query)
    async for data in csv_export.stream(CSV_HEADER, lines):
        out.write(data)
    out.flush()


@ledger_app.command("report")
def ledger_report(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, local time")] = "",
    first: Annotated[str, typer.Option("--from", help="or: the first day, YYYY-MM-DD")] = "",
    last: Annotated[str, typer.Option("--to", help="and the last day, included")] = "",
    by: Annotated[str, typer.Option("--by", help="day or month")] = "day",
    uid: Annotated[str, typer.Option("--uid", help="one account only")] = "",
    csv: Annotated[
        str, typer.Option("--csv", help="write CSV to this file ('-': standard output)")
    ] = "",
) -> None:
    """Parts charged, refunded, topped up and deducted per account and day or month."""

    async def report(settings: Settings, db: Database) -> str:
        zone = ZoneInfo(settings.timezone)
        query = report_query(
            zone, now_ms(), month_text=month, first=first, last=last, by=by, uid=uid
        )
        finance = Finance(db, zone)
        if not csv:
            count = await _print(finance, query)
            rows = f"{count} row{'' if count == 1 else 's'}"
            return f"{rows}, {query.period.first} to {query.period.last}"
        if csv == "-":
            await _write_csv(finance, query, out)
            return ""
        await _write_csv(finance, query, out)
        return f"wrote {csv}: {query.period.first} to {query.period.last} by {query.by}"

    out: IO[bytes] = sys.stdout.buffer
    if csv and csv != "-":
        try:
            out = Path(csv).open("wb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            fail(f"cannot write {csv}: {exc.strerror or exc}")
    try:
        said = with_database(report)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if said:
        typer.echo(said, err=bool(csv))


def _describe(p: Problem) -> str:
    match p.difference:
        case Difference.SUM:
            return f"account {p.uid}: the ledger sums to {p.found}, the balance is {p.expected}"
        case Difference.NEWEST:
            return (
                f"account {p.uid}: entry {p.entry_id} (the newest) says {p.found}, "
                f"the balance is {p.expected}"
            )
        case Difference.NO_ENTRIES:
            return f"account {p.uid}: no ledger entries, the balance is {p.expected}"
        case Difference.CHAIN:
            before = f"entry {p.previous_id}" if p.previous_id else "no entry (first)"
            return (
                f"account {p.uid}: entry {p.entry_id} says {p.found}, "
                f"{before} and its delta make {p.expected}"
            )
    return f"account {p.uid}: {p.difference}"


@ledger_app.command("check")
def ledger_check(
    limit: Annotated[int, typer.Option("--limit", help="differing entries listed at most")] = 1000,
) -> None:
    """Every account: its ledger sums to its balance, entry by entry. Exits 1 on a difference."""
    if limit < 1:
        fail("--limit is at least 1")

    async def check(settings: Settings, db: Database) -> LedgerCheck:
        return await Finance(db, ZoneInfo(settings.timezone)).check(limit=limit)

    result = with_database(check)
    summary = f"{result.accounts} accounts and {result.entries} ledger entries checked"
    if result.ok:
        typer.echo(f"ledger ok: {summary}")
        return
    for problem in result.problems:
        typer.echo(_describe(problem), err=True)
    if result.more:
        typer.echo(f"(more than {limit} entries differ; only the first are listed)", err=True)
    differing = result.differing_accounts
    typer.echo(
        f"ledger differs in {len(differing)} account{'' if len(differing) == 1 else 's'} "
        f"({', '.join(differing)}): {summary}",
        err=True,
    )
    raise typer.Exit(1)
