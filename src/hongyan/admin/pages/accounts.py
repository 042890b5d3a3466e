"""/admin/accounts: the list (search, sorting, pages), a new account, and an
account's customer console opened read-only ("view as")."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, AdminPage, operator_view
from hongyan.console.web import PREFIX as CONSOLE
from hongyan.console.web import SESSION_COOKIE as CONSOLE_COOKIE
from hongyan.core.account_list import (
    PAGE_SIZE,
    RATE_HOURS,
    SORTS,
    account_list,
    read_page,
    read_sort,
)
from hongyan.core.admin import Operator
from hongyan.core.sessions import VIEW_MS
from hongyan.errors import InvalidInput, NotFound
from hongyan.store.engine import now_ms

ACCOUNTS = f"{PREFIX}/accounts"


def account_url(uid: str) -> str:
    return f"{ACCOUNTS}/{quote(uid, safe='')}"


def routes() -> list[BaseRoute]:
    return [
        Route("/accounts", listing, methods=["GET"]),
        Route("/accounts/new", new_form, methods=["GET"]),
        Route("/accounts/new", create, methods=["POST"]),
        # POST only (a form with the CSRF token): it opens a session and is audited.
        Route("/accounts/{uid}/view-as", view_as, methods=["POST"]),
    ]


@operator_view()
async def listing(page: AdminPage) -> Response:
    params = page.request.query_params
    sort, descending = read_sort(params.get("sort", ""), params.get("dir", ""))
    found = await account_list(
        page.admin.db,
        page.admin.zone,
        now_ms(),
        q=params.get("q", ""),
        sort=sort,
        descending=descending,
        page=read_page(params.get("page", "")),
    )
    return page.render(
        "accounts.html",
        listing=found,
        sorts=SORTS,
        rate_hours=RATE_HOURS,
        page_size=PAGE_SIZE,
    )


def _new(page: AdminPage, status: int = 200, error: str = "") -> Response:
    return page.render(
        "account_new.html",
        status=status,
        error=error,
        typed_uid=page.field("uid"),
        typed_balance=page.field("balance"),
    )


@operator_view(action="account.create")
async def new_form(page: AdminPage) -> Response:
    return _new(page)


@operator_view(action="account.create")
async def create(page: AdminPage) -> Response:
    uid = page.field("uid")
    raw = page.field("balance").replace(",", "") or "0"
    if not raw.isdigit():
        error = page.gettext("The opening balance is a whole number of parts.")
        return _new(page, 400, error)
    operator = Operator(page.admin.settings, page.admin.db, actor=page.actor)
    try:
        await operator.create_account(uid, page.secret_field("password"), int(raw))
    except InvalidInput as exc:
        return _new(page, 400, str(exc))
    await page.admin.gates.refresh()
    page.flash(page.gettext("Account %(uid)s created.", uid=uid))
    return page.redirect(account_url(uid))


@operator_view(action="account.view")
async def view_as(page: AdminPage) -> Response:
    """The account's customer console in a read-only session of this browser
    (audited by core); the console shows who is viewing and refuses every change."""
    uid = page.request.path_params["uid"]
    settings = page.admin.settings
    if not settings.console.enabled:
        raise NotFound("the customer console is turned off on this platform")
    session = await page.admin.platform.sessions.start_viewing(page.actor, uid)
    # The customer console's own session cookie (console/web.py), for its path.
    parts = [
        f"{CONSOLE_COOKIE}={session.token}",
        f"Path={CONSOLE}",
        "HttpOnly",
        "SameSite=Lax",
        f"Max-Age={VIEW_MS // 1000}",
    ]
    https = page.admin.is_https(page.request)
    if https:
        parts.append("Secure")
    page.cookies.append("; ".join(parts))
    target = f"{CONSOLE}/"
    if settings.admin.own_listener:
        # The console is on the customer listener: the same host name (cookies
        # do not care about ports), its port.
        host = page.request.url.hostname or settings.host
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        target = f"{'https' if https else 'http'}://{host}:{settings.port}{target}"
    return page.redirect(target)
