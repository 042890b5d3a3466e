"""One module per console page; each gives its routes (`routes(console)`)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from hongyan.console.pages import account, overview, scheduled, send
from hongyan.console.web import Console

PAGES: tuple[Callable[[Console], list[BaseRoute]], ...] = (
    account.routes,
    overview.routes,
    send.routes,
    scheduled.routes,
)
