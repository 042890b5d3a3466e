"""The ledger: every change of the balance in a period, newest first.

Top-ups and debits one by one; charges and refunds summed per day (one
entry per send, one per refunded message: thousands a day on a busy
account); each row with the balance after it and the period's totals.
`CustomerService.ledger` reads it, scoped to the signed-in account.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.core.ledger import LedgerPage
from hongyan.core.states import LedgerKind
from hongyan.errors import InvalidInput

KIND_LABELS = {
    LedgerKind.TOPUP: _("Top-up"),
    LedgerKind.DEBIT: _("Debit"),
    LedgerKind.CHARGE: _("Charges"),
    LedgerKind.REFUND: _("Refunds"),
}


def routes(console: Console) -> list[BaseRoute]:
    return [Route(f"{PREFIX}/ledger", signed_in(console, ledger))]


async def ledger(page: Page) -> Response:
    account = await page.account()
    query = page.request.query_params
    first, last = query.get("from", "").strip(), query.get("to", "").strip()
    before_raw = query.get("before", "").strip()
    before = int(before_raw) if before_raw.isdigit() and len(before_raw) < 19 else None
    error = ""
    try:
        found = await page.console.service.ledger(account, first=first, last=last, before=before)
    except InvalidInput:
        error = page.gettext("Dates are YYYY-MM-DD, the first not after the last, a year at most.")
        found = await page.console.service.ledger(account, before=before)
    return page.render(
        "ledger.html",
        found=found,
        error=error,
        kinds=KIND_LABELS,
        LedgerKind=LedgerKind,
        first=found.period.first.isoformat(),
        last=found.period.last.isoformat(),
        next_url=_next_url(found),
        first_page=before is None,
    )


def _next_url(found: LedgerPage) -> str:
    if found.next_before is None:
        return ""
    first, last = found.period.first.isoformat(), found.period.last.isoformat()
    return f"{PREFIX}/ledger?from={first}&to={last}&before={found.next_before}"
