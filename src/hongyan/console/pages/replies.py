"""Replies: the account's inbox of handset replies, searchable, and as CSV.

The same keyset pages and chunked export as the records (core/history.py);
each reply shows how it reached the customer: fetched by /rx/, pushed, or
still waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hongyan.console import csv_export
from hongyan.console.pages.records import cursor, filters_of, link
from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.core.records import ReplyFilter, ReplyRow, reply_filter
from hongyan.errors import InvalidInput
from hongyan.store.engine import now_ms

FILTER_FIELDS = ("from", "to", "number", "q")
BAD_FILTER = _("The search could not be read: dates are YYYY-MM-DD.")


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/replies", signed_in(console, replies)),
        Route(f"{PREFIX}/replies.csv", signed_in(console, export)),
    ]


def parse(page: Page, given: dict[str, str]) -> ReplyFilter:
    return reply_filter(
        page.console.zone,
        start=given["from"],
        end=given["to"],
        number=given["number"],
        text=given["q"],
    )


async def replies(page: Page) -> Response:
    account = await page.account()
    given = filters_of(page, FILTER_FIELDS)
    try:
        f = parse(page, given)
    except InvalidInput:
        return page.render(
            "replies.html",
            status=400,
            error=page.gettext(BAD_FILTER),
            given=given,
            window=None,
            export="",
            newer="",
            older="",
            newest="",
        )
    before, after = cursor(page, "before"), cursor(page, "after")
    window = await page.console.service.history.replies(account, f, before=before, after=after)
    base = f"{PREFIX}/replies"
    return page.render(
        "replies.html",
        error="",
        given=given,
        window=window,
        export=link(f"{PREFIX}/replies.csv", given),
        newer=link(base, given, after=window.newer) if window.newer else "",
        older=link(base, given, before=window.older) if window.older else "",
        newest=link(base, given) if window.newer else "",
    )


async def export(page: Page) -> Response:
    account = await page.account()
    try:
        f = parse(page, filters_of(page, FILTER_FIELDS))
    except InvalidInput:
        return Response(page.gettext(BAD_FILTER), status_code=400, media_type="text/plain")
    console = page.console
    ways = {
        "pushed": page.gettext(_("Pushed")),
        "waiting_push": page.gettext(_("Waiting to be pushed")),
        "fetched": page.gettext(_("Fetched by /rx/")),
        "new": page.gettext(_("Not fetched yet")),
    }
    header = [
        page.gettext(text)
        for text in (_("Received at"), _("Number"), _("Text"), _("To number"), _("Handed to you"))
    ]

    async def rows() -> AsyncIterator[Sequence[Sequence[csv_export.Cell]]]:
        async for chunk in console.service.history.export_replies(account, f):
            yield [
                [
                    console.local_time(r.received_at),
                    r.mobile,
                    r.content,
                    r.gateway,
                    ways[handed(r)],
                ]
                for r in chunk
            ]

    name = csv_export.filename("replies", now_ms(), console.zone)
    return StreamingResponse(
        csv_export.stream(header, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": csv_export.disposition(name)},
    )


def handed(reply: ReplyRow) -> str:
    """How a reply reached the customer, as one word the page and the CSV share."""
    if reply.pushed_at is not None:
        return "pushed"
    if reply.push_waiting:
        return "waiting_push"
    return "fetched" if reply.fetched_at is not None else "new"
