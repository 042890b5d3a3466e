"""The overview: the first page after signing in.

Balance, parts sent today and this month, the delivery rate, the failures
by reason with what each means (`core.receipt_codes`), replies waiting, and
a chart of sent / delivered / failed over 24 hours, 7 or 30 days. The
figures come from `CustomerService.overview`; this module only lays them out.
"""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console import chart
from hongyan.console.web import PREFIX, Console, Page, signed_in
from hongyan.core.overview import ChartRange
from hongyan.core.receipt_codes import explain


def routes(console: Console) -> list[BaseRoute]:
    return [Route(f"{PREFIX}/", signed_in(console, overview))]


async def overview(page: Page) -> Response:
    account = await page.account()
    chosen = ChartRange.read(page.request.query_params.get("range", ""))
    figures = await page.console.service.overview(account, chosen)
    zone = page.console.zone
    pattern = "%H:00" if chosen is ChartRange.DAY else "%m-%d"

    def label(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, zone).strftime(pattern)

    failed = figures.recent.failed
    failures = [
        (status, count, count / failed if failed else 0, explain(status))
        for status, count in figures.failures
    ]
    return page.render(
        "overview.html",
        o=figures,
        ranges=list(ChartRange),
        failures=failures,
        wide=chart.layout(figures.chart, label, width=720, height=260, max_labels=12),
        narrow=chart.layout(figures.chart, label, width=360, height=240, max_labels=6),
    )
