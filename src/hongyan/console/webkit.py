"""What the customer console (console/web.py) and the operator console
(admin/web.py) share: the security headers of every answer, the client as a
trusted proxy tells of it, templates in the viewer's language, cookies, the
origin and CSRF check of a state-changing request, the sign-in form's
pre-session token, and the wrapping of every view (errors, access log).

Each console is a `WebConsole` (its path prefix, cookies, templates,
catalogues, logger) and each request a `WebPage`; what differs between the
two (the session, what a page renders with, which errors a view may raise)
stays in their own web.py.
"""

from __future__ import annotations

import gettext
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel.numbers import format_decimal, format_percent
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from hongyan.api.customer import forwarded_for
from hongyan.config import Settings
from hongyan.core.gates import Gatekeeper

access_log = logging.getLogger("hongyan.access")

METHODS_THAT_CHANGE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Content-Security-Policy of every console answer: nothing from elsewhere, no
# inline script or style, no framing (clickjacking), forms post only here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class WebConsole:
    """One console of a running platform: where it is served, its cookies,
    templates and catalogues, and what it knows of the client."""

    def __init__(
        self,
        settings: Settings,
        gates: Gatekeeper,
        *,
        name: str,
        prefix: str,
        same_site: str,
        pre_session_cookie: str,
        templates: Path,
        static: Path,
        languages: tuple[str, ...],
        locales: Mapping[str, str],
        translations: Callable[[str], gettext.NullTranslations],
        log: logging.Logger,
        form_limits: Mapping[str, int],
    ) -> None:
        self.settings = settings
        self.gates = gates
        self.name = name  # "console" or "admin", in log messages
        self.prefix = prefix
        self.same_site = same_site
        self.pre_session_cookie = pre_session_cookie
        self.templates = templates
        self.locales = locales
        self.translations = translations
        self.log = log
        self.form_limits = dict(form_limits)
        self.zone = ZoneInfo(settings.timezone)
        self.static_version = static_version(static)
        self.environments = {language: self._environment(language) for language in languages}

    def _environment(self, language: str) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(self.translations(language), newstyle=True)  # type: ignore[attr-defined]
        locale = self.locales[language]
        env.filters["num"] = lambda n: format_decimal(n or 0, locale=locale)
        env.filters["percent"] = lambda r: format_percent(r or 0, "#,##0.0%", locale=locale)
        env.filters["ts"] = lambda ms: self.local_time(ms)
        env.globals["static"] = lambda name: f"{self.prefix}/static/{name}?v={self.static_version}"
        env.globals["language"] = language
        return env

    def local_time(self, ms: int | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
        if not ms:
            return ""
        return datetime.fromtimestamp(ms / 1000, self.zone).strftime(pattern)

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        return self.gates.client_address(peer, forwarded_for(request.scope["headers"]))

    def is_https(self, request: Request) -> bool:
        """HTTPS as the browser sees it: our own TLS, or a trusted proxy's word."""
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else ""
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return proto == "https" and self.gates.is_trusted_proxy(peer)

    def public_host(self, request: Request) -> str:
        """The host the browser addressed: a trusted proxy's X-Forwarded-Host, or Host."""
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        if forwarded and self.gates.is_trusted_proxy(peer):
            return forwarded
        return request.headers.get("host", "")


class WebPage:
    """What a request to a view of either console has (each console's page
    is a dataclass with these fields) and the ways of answering it."""

    request: Request
    language: str
    form: FormData | None
    headers: dict[str, str]
    cookies: list[str]  # Set-Cookie values of the answer
    started: float

    @property
    def site(self) -> WebConsole:
        raise NotImplementedError

    def access_fields(self) -> dict[str, str]:
        """Who asks, for the access log line (the uid, the operator)."""
        return {}

    def gettext(self, message: str, **values: Any) -> str:
        text = self.site.translations(self.language).gettext(message)
        return text % values if values else text

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        raise NotImplementedError

    def refuse(self, status: int, message: str) -> HTMLResponse:
        """A request that cannot go on: the page says why, with a way back."""
        return self.render("error.html", status=status, message=message)

    def redirect(self, to: str, **query: str | int) -> RedirectResponse:
        """See other (303): after a POST, the browser GETs `to`."""
        if query:
            to += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
        return RedirectResponse(to, status_code=303, headers=self.headers)

    def failed(self, exc: Exception) -> Response:
        """The answer when the view raised `exc` (a console maps its own errors first)."""
        self.site.log.exception(
            f"{self.site.name} page failed", extra={"path": self.request.url.path}
        )
        return self.render("error.html", status=500, message="")


P = TypeVar("P", bound=WebPage)


def to_sign_in(page: WebPage) -> Response:
    """Back to this page after signing in; a form's data is not carried over:
    a change is never made on the strength of an ended session."""
    request = page.request
    target = request.url.path
    if request.method not in METHODS_THAT_CHANGE and request.url.query:
        target += f"?{request.url.query}"
    return finish(page, page.redirect(f"{page.site.prefix}/sign-in", next=target))


async def check_change(page: WebPage, token_ok: Callable[[str], bool]) -> Response | None:
    """Refuse a state-changing request from another origin or without its CSRF token."""
    site, request = page.site, page.request
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if origin and urlsplit(origin).netloc != site.public_host(request):
        site.log.warning(
            f"{site.name} request from another origin refused", extra={"path": request.url.path}
        )
        return page.refuse(
            403, page.gettext("This request came from another site and was refused.")
        )
    try:
        page.form = await request.form(**site.form_limits)
    except Exception:  # malformed multipart, over a bound: the form is refused as a whole
        site.log.info(f"{site.name} form unreadable", extra={"path": request.url.path})
        return page.refuse(400, page.gettext("The form could not be read."))
    given = request.headers.get("x-csrf-token") or page.field("csrf")
    if not given or not token_ok(given):
        return page.refuse(
            403, page.gettext("The form has expired: reload the page and try again.")
        )
    return None


async def run_public(page: P, view: Callable[[P], Awaitable[Response]]) -> Response:
    """A view for anyone (a sign-in page): a pre-session token (double-submit:
    cookie and field must agree) guards its form."""
    site, request = page.site, page.request
    pre = request.cookies.get(site.pre_session_cookie, "")
    if request.method in METHODS_THAT_CHANGE:

        def matches(given: str) -> bool:
            return bool(pre) and secrets.compare_digest(
                pre.encode(), given.encode("utf-8", "replace")
            )

        refusal = await check_change(page, matches)
        if refusal is not None:
            return finish(page, refusal)
    if not pre:
        pre = secrets.token_urlsafe(32)
        page.cookies.append(cookie(site, request, site.pre_session_cookie, pre, max_age=None))
    request.state.pre_session = pre
    return await run(page, view)


async def run(page: P, view: Callable[[P], Awaitable[Response]]) -> Response:
    """The view's answer, or the page's answer to what it raised; then `finish`."""
    try:
        response = await view(page)
    except Exception as exc:
        response = page.failed(exc)
    finally:
        if page.form is not None:
            await page.form.close()
    return finish(page, response)


def finish(page: WebPage, response: Response) -> Response:
    """Every console answer: the security headers, the cookies set, an access log line."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    for value in page.cookies:
        response.raw_headers.append((b"set-cookie", value.encode("latin-1")))
    if page.site.settings.access_log:
        access_log.info(
            "%s %s %d",
            page.request.method,
            page.request.url.path,
            response.status_code,
            extra={
                "client": page.request.client.host if page.request.client else "",
                **page.access_fields(),
                "ms": round((time.perf_counter() - page.started) * 1000, 2),
            },
        )
    return response


def cookie(site: WebConsole, request: Request, name: str, value: str, max_age: int | None) -> str:
    """A Set-Cookie value: HttpOnly, the console's SameSite and path, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={site.prefix}", "HttpOnly", f"SameSite={site.same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if site.is_https(request):
        parts.append("Secure")
    return "; ".join(parts)


def static_version(folder: Path) -> str:
    """Part of every asset's URL, so a browser never keeps an old one after an upgrade."""
    newest = max((p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()), default=0)
    return format(newest % 0xFFFFFFFF, "x")


class Assets(StaticFiles):
    """A console's own static files: cached a year (their URLs change with them,
    `static_version`)."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response
