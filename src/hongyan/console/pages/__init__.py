"""One module per console page; each gives its routes (`routes(console)`)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from hongyan.console.pages import (
    account,
    api_access,
    ledger,
    overview,
    push_settings,
    records,
    replies,
    scheduled,
    send,
    settings,
)
from hongyan.console.web import Console

PAGES: tuple[Callable[[Console], list[BaseRoute]], ...] = (
    account.routes,
    overview.routes,
    records.routes,
    replies.routes,
    ledger.routes,
    settings.routes,
    push_settings.routes,
    api_access.routes,
    send.routes,
    scheduled.routes,
)
