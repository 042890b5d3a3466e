"""/admin/finance: parts charged, refunded, topped up and deducted per account
and day or month (core/finance.py), its CSV export (`finance.export`, audited
by core before the first row: so a POST, a form with the CSRF token) and the
ledger check, run only when asked (it reads the whole ledger)."""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, AdminPage, operator_view, url_with
from hongyan.console import csv_export
from hongyan.core import finance
from hongyan.core.finance import (
    CSV_HEADER,
    EXPORT_ACTION,
    Finance,
    LedgerCheck,
    ReportPage,
    ReportQuery,
    report_query,
)
from hongyan.errors import InvalidInput, NotFound

FINANCE = f"{PREFIX}/finance"
FILTERS = ("by", "month", "from", "to", "uid")
BY_CHOICES = ("day", "month")
PAGE_SIZE = finance.PAGE_SIZE


def routes() -> list[BaseRoute]:
    return [
        Route("/finance", report, methods=["GET"]),
        Route("/finance/check", check, methods=["GET"]),
        Route("/finance.csv", export, methods=["POST"]),
    ]


def _finance(page: AdminPage) -> Finance:
    return Finance(page.admin.db, page.admin.zone)


def _given(page: AdminPage) -> dict[str, str]:
    """The filters: the query's, or the export form's fields."""
    if page.form is not None:
        return {name: page.field(name).strip() for name in FILTERS}
    params = page.request.query_params
    return {name: params.get(name, "").strip() for name in FILTERS}


def _query(page: AdminPage, given: dict[str, str]) -> ReportQuery:
    return report_query(
        page.admin.zone,
        page.admin.sessions.now(),
        month_text=given["month"],
        first=given["from"],
        last=given["to"],
        by=given["by"] or "day",
        uid=given["uid"],
    )


async def _render(page: AdminPage, ledger: LedgerCheck | None = None) -> Response:
    given = _given(page)
    after = page.request.query_params.get("after", "").strip() or None
    error, status = "", 200
    report: ReportPage | None = None
    try:
        report = await _finance(page).page(_query(page, given), after=after, size=PAGE_SIZE)
    except (InvalidInput, NotFound) as exc:
        error, status = str(exc), 404 if isinstance(exc, NotFound) else 400
    kept = {k: v for k, v in given.items() if k != "by" or v != "day"}
    return page.render(
        "finance.html",
        status=status,
        given=given,
        report=report,
        error=error,
        by_choices=[(value, value) for value in BY_CHOICES],
        first_page=url_with(FINANCE, kept) if after else "",
        next_page=url_with(FINANCE, kept, after=report.next_after)
        if report and report.next_after
        else "",
        export=f"{FINANCE}.csv" if page.may(EXPORT_ACTION) else "",
        export_fields=kept,
        check_url=url_with(f"{FINANCE}/check", kept),
        ledger=ledger,
    )


@operator_view()
async def report(page: AdminPage) -> Response:
    return await _render(page)


@operator_view()
async def check(page: AdminPage) -> Response:
    """The report as asked, and the ledger check's result beside it."""
    return await _render(page, await _finance(page).check())


@operator_view()
async def export(page: AdminPage) -> Response:
    """The report as CSV (UTF-8 with a BOM, as the customer console's, for
    Excel); core checks the role and writes the audit entry before any row."""
    query = _query(page, _given(page))
    lines = await _finance(page).export(page.actor, query)
    stem = f"finance-{query.period.first}-{query.period.last}-by-{query.by}"
    name = csv_export.filename(stem, page.admin.sessions.now(), page.admin.zone)
    return StreamingResponse(
        csv_export.stream(CSV_HEADER, lines),
        media_type="text/csv; charset=utf-8",
        headers={**page.headers, "content-disposition": csv_export.disposition(name)},
    )
