"""Signing in to the operator console, and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import (
    PREFIX,
    SESSION_COOKIE,
    AdminPage,
    cookie,
    operator_view,
    public_view,
)
from hongyan.core.operator_sessions import SignInRefused


def routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in, methods=["GET", "POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of the operator console, never another site."""
    parts = urlsplit(target)
    home = f"{PREFIX}/"
    if parts.scheme or parts.netloc or not parts.path.startswith(home):
        return home
    if target.startswith("//") or "\\" in target or parts.path.startswith(f"{PREFIX}/sign-"):
        return home
    return target


@public_view
async def sign_in(page: AdminPage) -> Response:
    request = page.request
    target = safe_next(request.query_params.get("next", ""))
    pre = request.state.pre_session
    if request.method == "GET":
        return page.render("sign_in.html", pre=pre, target=target, error="", typed="")
    name = page.field("name")
    try:
        session = await page.admin.sessions.sign_in(
            name, page.secret_field("password"), page.field("code"), page.address
        )
    except SignInRefused:
        error = page.gettext(
            "Wrong name, password or code, or too many attempts: wait a few minutes and retry."
        )
        return page.render(
            "sign_in.html", status=401, pre=pre, target=target, error=error, typed=name
        )
    max_age = page.admin.settings.admin.max_age_s
    page.cookies.append(cookie(page.admin, request, SESSION_COOKIE, session.token, max_age))
    return page.redirect(target)


@operator_view()
async def sign_out(page: AdminPage) -> Response:
    assert page.session is not None
    await page.admin.sessions.sign_out(page.session.token)
    page.cookies.append(cookie(page.admin, page.request, SESSION_COOKIE, "", max_age=0))
    return page.redirect(f"{PREFIX}/sign-in")
