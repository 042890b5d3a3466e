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
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hongyan.admin.i18n import LANGUAGES, LOCALES, translations
from hongyan.config import Settings
from hongyan.console.webkit import (
    METHODS_THAT_CHANGE,
    SECURITY_HEADERS,
    WebConsole,
    WebPage,
    check_change,
    cookie,
    finish,
    run,
    run_public,
    to_sign_in,
)
from hongyan.core.audit import Actor
from hongyan.core.operator_sessions import OperatorSession, OperatorSessions
from hongyan.core.roles import ROLES, allows
from hongyan.errors import Forbidden, InvalidInput, NotFound

if TYPE_CHECKING:
    from hongyan.app import Platform

__all__ = ["METHODS_THAT_CHANGE", "SECURITY_HEADERS", "cookie"]

log = logging.getLogger(__name__)

PREFIX = "/admin"
SESSION_COOKIE = "hy_admin"
# The sign-in form's CSRF token (double-submit: cookie and field must agree).
PRE_SESSION_COOKIE = "hy_admin_pre"
# A message for the next page shown (after a POST and its redirect).
FLASH_COOKIE = "hy_admin_flash"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LOCALE = "en_US"
# The operator's language (admin/i18n.py), chosen by the sidebar's switch.
LANGUAGE_COOKIE = "hy_admin_lang"
FLASH_KINDS = ("ok", "error", "info")


def url_with(path: str, query: Mapping[str, Any] | None = None, **changes: Any) -> str:
    """`path` with `query` changed by `changes` (a value None or "" drops the key):
    the links of sortable headers, pagers and filters."""
    merged = {k: v for k, v in (query or {}).items()}
    merged.update(changes)
    kept = {k: str(v) for k, v in merged.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


class AdminConsole(WebConsole):
    """What the views of one running platform share (`request.app.state.admin`)."""

    def __init__(self, platform: Platform, sessions: OperatorSessions) -> None:
        settings: Settings = platform.settings
        self.default_language = settings.admin.default_language
        super().__init__(
            settings,
            platform.gates,
            name="admin",
            prefix=PREFIX,
            same_site="Strict",
            pre_session_cookie=PRE_SESSION_COOKIE,
            templates=TEMPLATES,
            static=STATIC,
            languages=LANGUAGES,
            locales=LOCALES,
            translations=translations,
            log=log,
            form_limits={"max_files": 0, "max_fields": 200},
        )
        self.platform = platform
        self.db = platform.db
        self.sessions = sessions
        self.operators = sessions.operators
        self.environment = self.environments[self.default_language]

    def language(self, request: Request) -> str:
        """The operator's choice (a cookie), else the console's default."""
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return chosen if chosen in LANGUAGES else self.default_language

    def _environment(self, language: str) -> jinja2.Environment:
        env = super()._environment(language)
        env.globals["url_with"] = url_with
        env.globals["roles"] = ROLES
        env.globals["role_options"] = [(role, role) for role in ROLES]
        env.globals["prefix"] = PREFIX
        return env


@dataclass
class AdminPage(WebPage):
    """One request to an operator view: who asks and how to answer (`language`:
    the operator's, `AdminConsole.language`)."""

    admin: AdminConsole
    request: Request
    language: str
    session: OperatorSession | None = None
    form: FormData | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values of the answer
    started: float = field(default_factory=time.perf_counter)

    @property
    def site(self) -> AdminConsole:
        return self.admin

    def access_fields(self) -> dict[str, str]:
        return {"operator": self.session.name if self.session else ""}

    def failed(self, exc: Exception) -> Response:
        """Errors mapped once for every view: `Forbidden` is the 403 page,
        `NotFound` and `InvalidInput` a page saying what was wrong."""
        if isinstance(exc, Forbidden):
            log.info("operator action refused", extra={"path": self.request.url.path})
            return self.render("forbidden.html", status=403, message=str(exc))
        if isinstance(exc, NotFound):
            return self.refuse(404, str(exc))
        if isinstance(exc, InvalidInput):
            return self.refuse(400, str(exc))
        return super().failed(exc)

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
            page = AdminPage(admin, request, admin.language(request))
            page.session = await admin.sessions.current(request.cookies.get(SESSION_COOKIE, ""))
            if page.session is None:
                return to_sign_in(page)
            if request.method in METHODS_THAT_CHANGE:
                refusal = await check_change(page, page.session.csrf_matches)
                if refusal is not None:
                    return finish(page, refusal)
            if action is not None and not page.may(action):
                return await run(page, _forbidden(action))
            return await run(page, view)

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
        return await run_public(AdminPage(admin, request, admin.language(request)), view)

    endpoint.__name__ = view.__name__
    return endpoint
