"""Signing in and out, the login password, and the language."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hongyan.console.i18n import LANGUAGES
from hongyan.console.web import (
    LANGUAGE_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Console,
    Page,
    cookie,
    public,
    signed_in,
)
from hongyan.core.sessions import MIN_PASSWORD_LENGTH
from hongyan.errors import InvalidInput, Rejected

# A year: the language is a preference, not a secret.
LANGUAGE_MAX_AGE = 365 * 86400


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/sign-in", public(console, sign_in), methods=["GET", "POST"]),
        Route(f"{PREFIX}/sign-out", signed_in(console, sign_out), methods=["POST"]),
        Route(f"{PREFIX}/password", signed_in(console, password), methods=["GET", "POST"]),
        Route(f"{PREFIX}/language/{{language}}", _language(console), methods=["GET"]),
    ]


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console path of ours, never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/"):
        return f"{PREFIX}/"
    if target.startswith("//") or "\\" in target:
        return f"{PREFIX}/"
    return target


async def sign_in(page: Page) -> Response:
    request = page.request
    target = _safe_next(request.query_params.get("next", ""))
    pre = request.state.pre_session
    if request.method == "GET":
        return page.render("sign_in.html", pre=pre, target=target, error="", typed_uid="")
    uid = page.field("uid")
    raw_password = page.form.get("password") if page.form is not None else ""
    password = raw_password if isinstance(raw_password, str) else ""
    sessions = page.console.sessions
    try:
        session, _ = await sessions.sign_in(uid, password, page.console.client_address(request))
    except Rejected as exc:
        return page.render(
            "sign_in.html",
            status=401,
            pre=pre,
            target=target,
            error=page.problem(exc),
            typed_uid=uid,
        )
    max_age = page.console.settings.console.max_age_s
    page.cookies.append(cookie(page.console, request, SESSION_COOKIE, session.token, max_age))
    return page.redirect(target)


async def sign_out(page: Page) -> Response:
    assert page.session is not None
    await page.console.sessions.sign_out(page.session.token)
    page.cookies.append(cookie(page.console, page.request, SESSION_COOKIE, "", max_age=0))
    return page.redirect(f"{PREFIX}/sign-in")


async def password(page: Page) -> Response:
    if page.request.method == "GET":
        return page.render("password.html", error="", done=page.request.query_params.get("done"))
    assert page.session is not None and page.form is not None
    current, new, again = (
        str(page.form.get("current") or ""),
        str(page.form.get("new") or ""),
        str(page.form.get("again") or ""),
    )
    if new != again:
        return page.render(
            "password.html",
            status=400,
            error=page.gettext("The two new passwords differ."),
            done=None,
        )
    try:
        session = await page.console.sessions.change_password(
            page.session, current, new, page.console.client_address(page.request)
        )
    except Rejected as exc:
        return page.render("password.html", status=400, error=page.problem(exc), done=None)
    except InvalidInput:
        message = page.gettext(
            "The new password needs at least %(n)s characters, no spaces around it, "
            "and must not be the user name.",
            n=MIN_PASSWORD_LENGTH,
        )
        return page.render("password.html", status=400, error=message, done=None)
    max_age = page.console.settings.console.max_age_s
    page.cookies.append(cookie(page.console, page.request, SESSION_COOKIE, session.token, max_age))
    return page.redirect(f"{PREFIX}/password", done="1")


def _language(console: Console):  # type: ignore[no-untyped-def]
    async def choose(request: Request) -> Response:
        language = request.path_params["language"]
        back = _safe_next(request.query_params.get("back", ""))
        response = RedirectResponse(back, status_code=303, headers=SECURITY_HEADERS)
        if language in LANGUAGES:
            value = cookie(console, request, LANGUAGE_COOKIE, language, LANGUAGE_MAX_AGE)
            response.raw_headers.append((b"set-cookie", value.encode("latin-1")))
        return response

    return choose
