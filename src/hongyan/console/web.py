"""What every console view shares: the signed-in session, CSRF, rendering.

A view is `async def view(page: Page) -> Response`, wrapped by `signed_in`
(or `public` for the sign-in page): the wrapper finds the session from its
cookie, refuses a state-changing request without the session's CSRF token
or from another origin, and gives the view a `Page` that renders templates
in the browser's language. Errors a customer can act on are `Rejected`
(a protocol stat code) or `InvalidInput`; anything else is logged and
answered with an error page, never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hongyan.api.customer import forwarded_for
from hongyan.config import Settings
from hongyan.console.i18n import LANGUAGES, LOCALES, translations
from hongyan.core.gates import Gatekeeper
from hongyan.core.models import Account
from hongyan.core.service import CustomerService
from hongyan.core.sessions import ConsoleSessions, Session
from hongyan.errors import InvalidInput, Rejected
from hongyan.protocol.stat import Stat

log = logging.getLogger(__name__)
access_log = logging.getLogger("hongyan.access")

PREFIX = "/console"
SESSION_COOKIE = "hy_session"
LANGUAGE_COOKIE = "hy_lang"
# The sign-in form's CSRF token (double-submit: cookie and field must agree).
PRE_SESSION_COOKIE = "hy_pre"
METHODS_THAT_CHANGE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

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


class Console:
    """What the views of one running platform share."""

    def __init__(
        self,
        settings: Settings,
        service: CustomerService,
        gates: Gatekeeper,
        sessions: ConsoleSessions,
    ) -> None:
        self.settings = settings
        self.service = service
        self.gates = gates
        self.sessions = sessions
        self.zone = ZoneInfo(settings.timezone)
        self.static_version = _static_version()
        self.environments = {language: self._environment(language) for language in LANGUAGES}

    def _environment(self, language: str) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        locale = LOCALES[language]
        env.filters["num"] = lambda n: format_decimal(n or 0, locale=locale)
        env.filters["percent"] = lambda r: format_percent(r or 0, "#,##0.0%", locale=locale)
        env.filters["ts"] = lambda ms: self.local_time(ms)
        env.globals["static"] = lambda name: f"{PREFIX}/static/{name}?v={self.static_version}"
        env.globals["language"] = language
        return env

    def local_time(self, ms: int | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
        if not ms:
            return ""
        return datetime.fromtimestamp(ms / 1000, self.zone).strftime(pattern)

    def format_datetime(self, ms: int, language: str) -> str:
        moment = datetime.fromtimestamp(ms / 1000, self.zone)
        return format_datetime(moment, "medium", locale=LOCALES[language])

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

    def language(self, request: Request) -> str:
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return chosen if chosen in LANGUAGES else self.settings.console.default_language


@dataclass
class Page:
    """One request to a view: who asks, in which language, and how to answer."""

    console: Console
    request: Request
    language: str
    session: Session | None = None
    form: FormData | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values of the answer
    started: float = field(default_factory=time.perf_counter)

    @property
    def uid(self) -> str:
        assert self.session is not None
        return self.session.uid

    @property
    def account_id(self) -> int:
        assert self.session is not None
        return self.session.account_id

    async def account(self, *, sending: bool = False) -> Account:
        """The signed-in account through the gates a console request passes
        (`Gatekeeper.signed_in`): `Rejected` when sending is not allowed now."""
        return await self.console.gates.signed_in(self.uid, sending=sending)

    def gettext(self, message: str, **values: Any) -> str:
        text = translations(self.language).gettext(message)
        return text % values if values else text

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        env = self.console.environments[self.language]
        html = env.get_template(template).render(
            page=self,
            uid=self.session.uid if self.session else "",
            csrf=self.session.csrf if self.session else "",
            viewer=self.session.viewer if self.session else "",
            path=self.request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=self.headers)

    def refuse(self, status: int, message: str) -> HTMLResponse:
        """A request that cannot go on: the page says why, with a way back."""
        return self.render("error.html", status=status, message=message)

    def redirect(self, to: str, **query: str | int) -> RedirectResponse:
        """See other (303): after a POST, the browser GETs `to`."""
        if query:
            to += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
        return RedirectResponse(to, status_code=303, headers=self.headers)

    def problem(self, exc: Rejected | InvalidInput) -> str:
        """What to tell the customer about a refusal, in their language."""
        if isinstance(exc, Rejected):
            return self.gettext(
                STAT_MESSAGES.get(exc.stat, "The request was refused (%(code)s)."),
                code=int(exc.stat),
            )
        return str(exc)


def _(message: str) -> str:
    """Marks a message id for the catalogue; translated where it is shown."""
    return message


REFUSED = _("The request was refused (%(code)s).")
READ_ONLY = _("This is a read-only view of the account: nothing can be changed here.")
# The stat codes a console action can meet, said for a person (msgids: English).
STAT_MESSAGES: Mapping[Stat, str] = {
    Stat.AUTH_FAILED: _("Wrong user name or password."),
    Stat.INSUFFICIENT_BALANCE: _("Not enough balance for this send."),
    Stat.OPERATION_FAILED: _("Something went wrong on our side; it has been logged."),
    Stat.ILLEGAL_CHARACTERS: _("The text contains a word that may not be sent."),
    Stat.CONTENT_TOO_LONG: _("The text is too long."),
    Stat.TOO_MANY_NUMBERS: _("Too many numbers in one send."),
    Stat.RATE_LIMITED: _("Too many requests a second: please slow down."),
    Stat.EMPTY_NUMBER_OR_CONTENT: _("Give at least one number and a text."),
    Stat.ACCOUNT_FROZEN: _("The account is frozen: please contact your account manager."),
    Stat.PER_NUMBER_LIMITED: _("This number was sent to too often: try again later."),
    Stat.SENDING_PAUSED: _("Sending is paused on the platform for now: please try again later."),
    Stat.BAD_NUMBER: _("No valid mobile number was given."),
    Stat.BAD_SCHEDULE_TIME: _("The time is not valid, or more than the allowed days ahead."),
    Stat.ACCOUNT_LOCKED: _("Too many failed attempts: try again in a few minutes."),
    Stat.NO_CHANNEL: _("No carrier channel can take these numbers now."),
    Stat.API_SENDING_DISABLED: _("Sending is turned off for this account."),
    Stat.IP_NOT_BOUND: _("This address is not bound to the account."),
    Stat.MAINTENANCE: _("The platform is under maintenance: please try again later."),
}


View = Callable[[Page], Awaitable[Response]]


def signed_in(console: Console, view: View) -> Callable[[Request], Awaitable[Response]]:
    """A view for a signed-in customer: others go to the sign-in page."""

    async def endpoint(request: Request) -> Response:
        page = Page(console, request, console.language(request))
        page.session = await console.sessions.current(request.cookies.get(SESSION_COOKIE, ""))
        if page.session is None:
            # Back to this page after signing in; a form's data is not carried
            # over: a change is never made on the strength of an ended session.
            target = request.url.path
            if request.method not in METHODS_THAT_CHANGE and request.url.query:
                target += f"?{request.url.query}"
            return _finish(page, page.redirect(f"{PREFIX}/sign-in", next=target))
        if request.method in METHODS_THAT_CHANGE:
            if page.session.read_only:
                # An operator's view (core/sessions.py start_viewing): here, and
                # only here, every change of such a session is refused.
                log.info("change refused in a read-only view", extra={"path": request.url.path})
                return _finish(page, page.refuse(403, page.gettext(READ_ONLY)))
            refusal = await _check_change(console, page, page.session.csrf_matches)
            if refusal is not None:
                return _finish(page, refusal)
        return await _run(page, view)

    return endpoint


def public(console: Console, view: View) -> Callable[[Request], Awaitable[Response]]:
    """A view for anyone (the sign-in page): a pre-session token guards its form."""

    async def endpoint(request: Request) -> Response:
        page = Page(console, request, console.language(request))
        pre = request.cookies.get(PRE_SESSION_COOKIE, "")
        if request.method in METHODS_THAT_CHANGE:

            def matches(given: str) -> bool:
                return bool(pre) and secrets.compare_digest(
                    pre.encode(), given.encode("utf-8", "replace")
                )

            refusal = await _check_change(console, page, matches)
            if refusal is not None:
                return _finish(page, refusal)
        if not pre:
            pre = secrets.token_urlsafe(32)
            page.cookies.append(cookie(console, request, PRE_SESSION_COOKIE, pre, max_age=None))
        request.state.pre_session = pre
        return await _run(page, view)

    return endpoint


async def _check_change(
    console: Console, page: Page, token_ok: Callable[[str], bool]
) -> Response | None:
    """Refuse a state-changing request from another origin or without its CSRF token."""
    request = page.request
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if origin and urlsplit(origin).netloc != console.public_host(request):
        log.warning("console request from another origin refused", extra={"path": request.url.path})
        return page.refuse(
            403, page.gettext("This request came from another site and was refused.")
        )
    try:
        page.form = await request.form(
            max_files=1, max_fields=200, max_part_size=console.settings.console.max_upload_bytes
        )
    except Exception:  # malformed multipart, over a bound: the form is refused as a whole
        log.info("console form unreadable", extra={"path": request.url.path})
        return page.refuse(400, page.gettext("The form could not be read."))
    given = request.headers.get("x-csrf-token") or page.field("csrf")
    if not given or not token_ok(given):
        return page.refuse(
            403, page.gettext("The form has expired: reload the page and try again.")
        )
    return None


async def _run(page: Page, view: View) -> Response:
    try:
        response = await view(page)
    except Exception:
        log.exception("console page failed", extra={"path": page.request.url.path})
        response = page.render("error.html", status=500, message="")
    finally:
        if page.form is not None:
            await page.form.close()
    return _finish(page, response)


def _finish(page: Page, response: Response) -> Response:
    """Every console answer: the security headers, the cookies set, an access log line."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    for value in page.cookies:
        response.raw_headers.append((b"set-cookie", value.encode("latin-1")))
    if page.console.settings.access_log:
        access_log.info(
            "%s %s %d",
            page.request.method,
            page.request.url.path,
            response.status_code,
            extra={
                "client": page.request.client.host if page.request.client else "",
                "uid": page.session.uid if page.session else "",
                "ms": round((time.perf_counter() - page.started) * 1000, 2),
            },
        )
    return response


def cookie(console: Console, request: Request, name: str, value: str, max_age: int | None) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, path /console, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={PREFIX}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if console.is_https(request):
        parts.append("Secure")
    return "; ".join(parts)


def _static_version() -> str:
    """Part of every asset's URL, so a browser never keeps an old one after an upgrade."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.rglob("*") if p.is_file()), default=0)
    return format(newest % 0xFFFFFFFF, "x")
