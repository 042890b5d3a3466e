"""What every operator console view shares: the operator's session, CSRF, rendering.

A view is `async def view(page: AdminPage) -> Response`, decorated with
`operator_view()` (or `operator_view(action="account.topup")` to require a
permission of core/roles.py), or `public_view` for the sign-in page. The
decorator finds the operator's session from its own cookie (`hy_admin`,
Path=/admin, SameSite=Strict: a customer console session never reaches
here), refuses a state-changing request without the session's CSRF token
or from another origin, and gives the view an `AdminPage` whose `actor` is
the operator for core/ (core.audit.Actor, via "console", the client's
address).

Errors, mapped here once for every view: `Forbidden` (from the decorator's
check or from core/) is the 403 page; `NotFound` and `InvalidInput` are a
page saying what was wrong (404, 400): a view that wants the message beside
its form catches them itself. Anything else is logged and answered with an
error page, never a stack trace.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel.numbers import format_decimal, format_percent
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hongyan.admin.i18n import LANGUAGES, LOCALES, translations
from hongyan.api.customer import forwarded_for
from hongyan.config import Settings
from hongyan.core.audit import Actor
from hongyan.core.gates import Gatekeeper
from hongyan.core.operator_sessions import OperatorSession, OperatorSessions
from hongyan.core.roles import ROLES, allows
from hongyan.errors import Forbidden, InvalidInput, NotFound

if TYPE_CHECKING:
    from hongyan.app import Platform

log = logging.getLogger(__name__)
access_log = logging.getLogger("hongyan.access")

PREFIX = "/admin"
SESSION_COOKIE = "hy_admin"
# The sign-in form's CSRF token (double-submit: cookie and field must agree).
PRE_SESSION_COOKIE = "hy_admin_pre"
# A message for the next page shown (after a POST and its redirect).
FLASH_COOKIE = "hy_admin_flash"
METHODS_THAT_CHANGE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LOCALE = "en_US"
# The operator's language (admin/i18n.py), chosen by the sidebar's switch.
LANGUAGE_COOKIE = "hy_admin_lang"
FLASH_KINDS = ("ok", "error", "info")

# As the customer console's: nothing from elsewhere, no inline script or style,
# no framing, forms post only here.
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


def url_with(path: str, query: Mapping[str, Any] | None = None, **changes: Any) -> str:
    """`path` with `query` changed by `changes` (a value None or "" drops the key):
    the links of sortable headers, pagers and filters."""
    merged = {k: v for k, v in (query or {}).items()}
    merged.update(changes)
    kept = {k: str(v) for k, v in merged.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


class AdminConsole:
    """What the views of one running platform share (`request.app.state.admin`)."""

    def __init__(self, platform: Platform, sessions: OperatorSessions) -> None:
        self.platform = platform
        self.settings: Settings = platform.settings
        self.db = platform.db
        self.gates: Gatekeeper = platform.gates
        self.sessions = sessions
        self.operators = sessions.operators
        self.zone = ZoneInfo(self.settings.timezone)
        self.static_version = _static_version()
        self.default_language = self.settings.admin.default_language
        self.environments = {language: self._environment(language) for language in LANGUAGES}
        self.environment = self.environments[self.default_language]

    def language(self, request: Request) -> str:
        """The operator's choice (a cookie), else the console's default."""
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return chosen if chosen in LANGUAGES else self.default_language

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
        env.globals["url_with"] = url_with
        env.globals["roles"] = ROLES
        env.globals["role_options"] = [(role, role) for role in ROLES]
        env.globals["prefix"] = PREFIX
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


@dataclass
class AdminPage:
    """One request to an operator view: who asks and how to answer."""

    admin: AdminConsole
    request: Request
    session: OperatorSession | None = None
    form: FormData | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values of the answer
    started: float = field(default_factory=time.perf_counter)

    @property
    def address(self) -> str:
        return self.admin.client_address(self.request)

    @property
    def actor(self) -> Actor:
        """The signed-in operator, for core/ (role checks and the audit log)."""
        assert self.session is not None, "actor of a public page"
        return self.session.actor(self.address)

    def may(self, action: str) -> bool:
        """Whether the operator's role allows `action` (to show or hide a control)."""
        return self.session is not None and allows(self.session.role, action)

    @property
    def language(self) -> str:
        return self.admin.language(self.request)

    def gettext(self, message: str, **values: Any) -> str:
        """`message` in the operator's language (its id must be in a catalogue
        of admin/translations to be translated)."""
        text = translations(self.language).gettext(message)
        return text % values if values else text

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def secret_field(self, name: str) -> str:
        """A password field as typed (not stripped)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def flash(self, message: str, kind: str = "ok") -> None:
        """A message shown on the next page this browser gets (after a redirect)."""
        data = json.dumps({"k": kind if kind in FLASH_KINDS else "info", "t": message[:300]})
        value = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
        self.cookies.append(cookie(self.admin, self.request, FLASH_COOKIE, value, max_age=60))

    def _flashes(self) -> list[tuple[str, str]]:
        raw = self.request.cookies.get(FLASH_COOKIE, "")
        if not raw:
            return []
        self.cookies.append(cookie(self.admin, self.request, FLASH_COOKIE, "", max_age=0))
        try:
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return [(str(data["k"]), str(data["t"]))]
        except (ValueError, KeyError, TypeError):
            return []

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        environment = self.admin.environments[self.language]
        html = environment.get_template(template).render(
            page=self,
            operator=self.session,
            csrf=self.session.csrf if self.session else "",
            path=self.request.url.path,
            query=dict(self.request.query_params),
            flashes=self._flashes(),
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


AdminView = Callable[[AdminPage], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _admin_of(request: Request) -> AdminConsole:
    admin = request.app.state.admin
    assert isinstance(admin, AdminConsole)
    return admin


def operator_view(action: str | None = None) -> Callable[[AdminView], Endpoint]:
    """A view for a signed-in operator (others go to the sign-in page); with
    `action`, only for a role that allows it (403 page otherwise)."""

    def wrap(view: AdminView) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            admin = _admin_of(request)
            page = AdminPage(admin, request)
            page.session = await admin.sessions.current(request.cookies.get(SESSION_COOKIE, ""))
            if page.session is None:
                target = request.url.path
                if request.method not in METHODS_THAT_CHANGE and request.url.query:
                    target += f"?{request.url.query}"
                return _finish(page, page.redirect(f"{PREFIX}/sign-in", next=target))
            if request.method in METHODS_THAT_CHANGE:
                refusal = await _check_change(page, page.session.csrf_matches)
                if refusal is not None:
                    return _finish(page, refusal)
            if action is not None and not page.may(action):
                return await _run(page, _forbidden(action))
            return await _run(page, view)

        endpoint.__name__ = view.__name__
        endpoint.__doc__ = view.__doc__
        return endpoint

    return wrap


def _forbidden(action: str) -> AdminView:
    async def refuse(page: AdminPage) -> Response:
        role = page.session.role if page.session else ""
        raise Forbidden(f"the {role} role does not allow {action}")

    return refuse


def public_view(view: AdminView) -> Endpoint:
    """A view for anyone (the sign-in page): a pre-session token guards its form."""

    async def endpoint(request: Request) -> Response:
        admin = _admin_of(request)
        page = AdminPage(admin, request)
        pre = request.cookies.get(PRE_SESSION_COOKIE, "")
        if request.method in METHODS_THAT_CHANGE:

            def matches(given: str) -> bool:
                return bool(pre) and secrets.compare_digest(
                    pre.encode(), given.encode("utf-8", "replace")
                )

            refusal = await _check_change(page, matches)
            if refusal is not None:
                return _finish(page, refusal)
        if not pre:
            pre = secrets.token_urlsafe(32)
            page.cookies.append(cookie(admin, request, PRE_SESSION_COOKIE, pre, max_age=None))
        request.state.pre_session = pre
        return await _run(page, view)

    endpoint.__name__ = view.__name__
    return endpoint


async def _check_change(page: AdminPage, token_ok: Callable[[str], bool]) -> Response | None:
    """Refuse a state-changing request from another origin or without its CSRF token."""
    request = page.request
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if origin and urlsplit(origin).netloc != page.admin.public_host(request):
        log.warning("admin request from another origin refused", extra={"path": request.url.path})
        return page.refuse(403, "This request came from another site and was refused.")
    try:
        page.form = await request.form(max_files=0, max_fields=200)
    except Exception:  # malformed, over a bound: the form is refused as a whole
        log.info("admin form unreadable", extra={"path": request.url.path})
        return page.refuse(400, "The form could not be read.")
    given = request.headers.get("x-csrf-token") or page.field("csrf")
    if not given or not token_ok(given):
        return page.refuse(403, "The form has expired: reload the page and try again.")
    return None


async def _run(page: AdminPage, view: AdminView) -> Response:
    try:
        response = await view(page)
    except Forbidden as exc:
        log.info("operator action refused", extra={"path": page.request.url.path})
        response = page.render("forbidden.html", status=403, message=str(exc))
    except NotFound as exc:
        response = page.refuse(404, str(exc))
    except InvalidInput as exc:
        response = page.refuse(400, str(exc))
    except Exception:
        log.exception("admin page failed", extra={"path": page.request.url.path})
        response = page.render("error.html", status=500, message="")
    finally:
        if page.form is not None:
            await page.form.close()
    return _finish(page, response)


def _finish(page: AdminPage, response: Response) -> Response:
    """Every answer: the security headers, the cookies set, an access log line."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    for value in page.cookies:
        response.raw_headers.append((b"set-cookie", value.encode("latin-1")))
    if page.admin.settings.access_log:
        access_log.info(
            "%s %s %d",
            page.request.method,
            page.request.url.path,
            response.status_code,
            extra={
                "client": page.request.client.host if page.request.client else "",
                "operator": page.session.name if page.session else "",
                "ms": round((time.perf_counter() - page.started) * 1000, 2),
            },
        )
    return response


def cookie(
    admin: AdminConsole, request: Request, name: str, value: str, max_age: int | None
) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/admin, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={PREFIX}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if admin.is_https(request):
        parts.append("Secure")
    return "; ".join(parts)


def _static_version() -> str:
    """Part of every asset's URL, so a browser never keeps an old one after an upgrade."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.rglob("*") if p.is_file()), default=0)
    return format(newest % 0xFFFFFFFF, "x")
