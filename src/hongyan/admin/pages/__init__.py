"""One module per operator console page; each gives its routes (`routes()`),
paths relative to /admin (the application is mounted there).

A page module is

    from hongyan.admin.web import AdminPage, operator_view

    @operator_view()                         # any signed-in operator
    async def accounts(page: AdminPage) -> Response: ...

    @operator_view(action="account.topup")   # a role that allows it, else 403
    async def topup(page: AdminPage) -> Response: ...

    def routes() -> list[BaseRoute]:
        return [Route("/accounts", accounts), Route("/accounts/{uid}/topup", topup,
                methods=["POST"])]

and is added to PAGES below.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from hongyan.admin.pages import (
    account,
    account_push,
    accounts,
    audit,
    channels,
    finance,
    language,
    me,
    messages,
    operators,
    sign_in,
    system,
)

PAGES: tuple[Callable[[], list[BaseRoute]], ...] = (
    sign_in.routes,
    me.routes,
    language.routes,
    operators.routes,
    # accounts before account: /accounts/new is no account's page.
    accounts.routes,
    account.routes,
    account_push.routes,
    messages.routes,
    audit.routes,
    finance.routes,
    channels.routes,
    system.routes,
)
