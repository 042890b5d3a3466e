"""Scheduled sends: the account's batches waiting for their time, and
cancelling one (its messages not yet sent end as cancelled, refunded:
the rule is core/cancel.py, applied by `CustomerService.cancel`)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.errors import NotFound

# Characters of a batch's text shown in the list.
PREVIEW_CHARS = 40
CANCELLED = _("Cancelled: %(n)s messages, %(parts)s parts refunded.")
NOTHING_LEFT = _("Nothing was left to cancel: every message of this batch has been sent.")
NO_SUCH_BATCH = _("No such scheduled send.")


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/scheduled", signed_in(console, scheduled)),
        Route(f"{PREFIX}/scheduled/cancel", signed_in(console, cancel), methods=["POST"]),
    ]


async def scheduled(page: Page) -> Response:
    account = await page.account()
    batches = await page.console.service.waiting_batches(account)
    query = page.request.query_params
    notice = ""
    if query.get("cancelled"):
        notice = page.gettext(CANCELLED, n=query.get("cancelled"), parts=query.get("refunded", "0"))
    elif query.get("nothing"):
        notice = page.gettext(NOTHING_LEFT)
    return page.render(
        "scheduled.html",
        batches=batches,
        preview_chars=PREVIEW_CHARS,
        notice=notice,
        error=page.gettext(NO_SUCH_BATCH) if query.get("missing") else "",
    )


async def cancel(page: Page) -> Response:
    account = await page.account()
    raw = page.field("batch")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return page.redirect(f"{PREFIX}/scheduled", missing=1)
    try:
        done = await page.console.service.cancel(account, int(raw))
    except NotFound:
        return page.redirect(f"{PREFIX}/scheduled", missing=1)
    if not done.messages:
        return page.redirect(f"{PREFIX}/scheduled", nothing=1)
    return page.redirect(f"{PREFIX}/scheduled", cancelled=done.messages, refunded=done.refunded)
