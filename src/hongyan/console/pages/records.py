"""Send records: the account's messages page by page, one message in full,
and the same filters as a CSV file.

The filters and what a status means are core/records.py's; the queries are
store/history.py's, scoped by the signed-in account (another account's
message id is a 404, its cursor or batch id finds nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlencode

from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hongyan.console import csv_export
from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.core.records import MessageFilter, MessageRow, message_filter
from hongyan.core.states import StatusClass
from hongyan.errors import InvalidInput
from hongyan.store.engine import now_ms

FILTER_FIELDS = ("from", "to", "number", "status", "batch")
STATUS_CHOICES = (
    ("", _("All statuses")),
    (StatusClass.DELIVERED, _("Delivered")),
    (StatusClass.FAILED, _("Failed")),
    (StatusClass.WAITING, _("Waiting for report")),
)
BAD_FILTER = _("The filter could not be read: dates are YYYY-MM-DD, a batch is a number.")


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/records", signed_in(console, records)),
        Route(f"{PREFIX}/records.csv", signed_in(console, export)),
        Route(f"{PREFIX}/records/{{message_id:int}}", signed_in(console, message)),
    ]


def filters_of(page: Page, fields: tuple[str, ...] = FILTER_FIELDS) -> dict[str, str]:
    """The filter fields as given (shown back in the form, kept in every link)."""
    query = page.request.query_params
    return {name: query.get(name, "").strip()[:100] for name in fields}


def parse(page: Page, given: dict[str, str]) -> MessageFilter:
    return message_filter(
        page.console.zone,
        start=given["from"],
        end=given["to"],
        number=given["number"],
        status=given["status"],
        batch=given["batch"],
    )


def cursor(page: Page, name: str) -> int | None:
    raw = page.request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


def link(base: str, given: dict[str, str], **extra: int) -> str:
    query = {k: v for k, v in given.items() if v} | {k: str(v) for k, v in extra.items()}
    return f"{base}?{urlencode(query)}" if query else base


async def records(page: Page) -> Response:
    account = await page.account()
    given = filters_of(page)
    try:
        f = parse(page, given)
    except InvalidInput:
        return page.render(
            "records.html",
            status=400,
            error=page.gettext(BAD_FILTER),
            given=given,
            window=None,
            choices=STATUS_CHOICES,
            export="",
            newer="",
            older="",
            newest="",
            all_batches=f"{PREFIX}/records",
        )
    before, after = cursor(page, "before"), cursor(page, "after")
    window = await page.console.service.history.messages(account, f, before=before, after=after)
    base = f"{PREFIX}/records"
    return page.render(
        "records.html",
        error="",
        given=given,
        window=window,
        choices=STATUS_CHOICES,
        export=link(f"{PREFIX}/records.csv", given),
        newer=link(base, given, after=window.newer) if window.newer else "",
        older=link(base, given, before=window.older) if window.older else "",
        newest=link(base, given) if window.newer else "",
        all_batches=link(base, given | {"batch": ""}),
    )


async def message(page: Page) -> Response:
    account = await page.account()
    detail = await page.console.service.history.message(
        account, int(page.request.path_params["message_id"])
    )
    if detail is None:
        return page.render("records_not_found.html", status=404)
    return page.render("message.html", d=detail, m=detail.message)


async def export(page: Page) -> Response:
    account = await page.account()
    try:
        f = parse(page, filters_of(page))
    except InvalidInput:
        return Response(page.gettext(BAD_FILTER), status_code=400, media_type="text/plain")
    console = page.console
    words = {str(value): page.gettext(label) for value, label in STATUS_CHOICES[1:]}
    header = [
        page.gettext(text)
        for text in (
            _("Accepted at"),
            _("Number"),
            _("Text"),
            _("Parts"),
            _("Result"),
            _("Status"),
            _("Final at"),
            _("Mobile id"),
            _("Batch"),
            _("Message id"),
        )
    ]

    async def rows() -> AsyncIterator[Sequence[Sequence[csv_export.Cell]]]:
        async for chunk in console.service.history.export_messages(account, f):
            yield [_csv_row(console, words, row) for row in chunk]

    name = csv_export.filename("records", now_ms(), console.zone)
    return StreamingResponse(
        csv_export.stream(header, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": csv_export.disposition(name)},
    )


def _csv_row(console: Console, words: dict[str, str], row: MessageRow) -> list[csv_export.Cell]:
    return [
        console.local_time(row.created_at),
        row.mobile,
        row.content,
        row.parts,
        words[row.status_class],
        row.status,
        console.local_time(row.done_at),
        row.mobileid,
        row.submission_id,
        row.id,
    ]
