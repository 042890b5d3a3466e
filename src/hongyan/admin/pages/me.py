"""The signed-in operator's own account: the password and the second factor (TOTP)."""

from __future__ import annotations

import re

import segno
from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, SESSION_COOKIE, AdminPage, cookie, operator_view
from hongyan.core.operator_sessions import SignInRefused
from hongyan.core.operators import MIN_PASSWORD_LENGTH, new_totp_secret, totp_uri
from hongyan.errors import InvalidInput

ME = f"{PREFIX}/me"


def routes() -> list[BaseRoute]:
    return [
        Route("/me", me, methods=["GET"]),
        Route("/me/password", password, methods=["POST"]),
        Route("/me/totp", totp, methods=["POST"]),
    ]


def qr_svg(uri: str) -> Markup:
    """The URI as a QR code, an inline SVG (no script, no style, nothing fetched)."""
    code = segno.make(uri, error="m")
    return Markup(code.svg_inline(scale=4, dark="#0f172a", light="#ffffff", border=2))  # noqa: S704


async def _render(
    page: AdminPage,
    status: int = 200,
    *,
    secret: str = "",
    password_error: str = "",
    totp_error: str = "",
) -> Response:
    assert page.session is not None
    enrol = None
    if not page.session.totp_on:
        if not re.fullmatch(r"[A-Z2-7]{16,64}", secret):
            secret = new_totp_secret()
        uri = totp_uri(secret, page.session.name, page.admin.settings.admin.totp_issuer)
        enrol = {"secret": secret, "uri": uri, "qr": qr_svg(uri)}
    record = await page.admin.operators.get(page.session.name)
    return page.render(
        "me.html",
        status=status,
        record=record,
        enrol=enrol,
        password_error=password_error,
        totp_error=totp_error,
        min_length=MIN_PASSWORD_LENGTH,
    )


@operator_view()
async def me(page: AdminPage) -> Response:
    return await _render(page)


@operator_view()
async def password(page: AdminPage) -> Response:
    assert page.session is not None
    new, again = page.secret_field("new"), page.secret_field("again")
    if new != again:
        return await _render(
            page, 400, password_error=page.gettext("The two new passwords differ.")
        )
    try:
        session = await page.admin.sessions.change_password(
            page.session, page.secret_field("current"), new, page.address
        )
    except SignInRefused:
        error = page.gettext("The current password is not right (or too many attempts).")
        return await _render(page, 400, password_error=error)
    except InvalidInput as exc:
        return await _render(page, 400, password_error=str(exc))
    max_age = page.admin.settings.admin.max_age_s
    page.cookies.append(cookie(page.admin, page.request, SESSION_COOKIE, session.token, max_age))
    page.flash(page.gettext("Your password is changed; your other sessions have ended."))
    return page.redirect(ME)


@operator_view()
async def totp(page: AdminPage) -> Response:
    secret = page.field("secret")
    password = page.secret_field("password")
    try:
        await page.admin.operators.enable_totp(page.actor, password, secret, page.field("code"))
    except InvalidInput as exc:
        return await _render(page, 400, secret=secret, totp_error=str(exc))
    page.flash(page.gettext("The second factor is on: sign-in now asks for a code."))
    return page.redirect(ME)
