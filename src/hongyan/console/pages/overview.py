"""The overview: the first page after signing in."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.web import PREFIX, Console, Page, signed_in


def routes(console: Console) -> list[BaseRoute]:
    return [Route(f"{PREFIX}/", signed_in(console, overview))]


async def overview(page: Page) -> Response:
    account = await page.account()
    balance = await page.console.service.balance(account)
    return page.render("overview.html", balance=balance)
