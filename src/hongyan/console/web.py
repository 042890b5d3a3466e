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
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hongyan.config import Settings
from hongyan.console.i18n import LANGUAGES, LOCALES, translations
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
from hongyan.core.gates import Gatekeeper
from hongyan.core.models import Account
from hongyan.core.service import CustomerService
from hongyan.core.sessions import ConsoleSessions, Session
from hongyan.errors import InvalidInput, Rejected
from hongyan.protocol.stat import Stat

__all__ = ["METHODS_THAT_CHANGE", "SECURITY_HEADERS", "cookie"]

log = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "hy_session"
LANGUAGE_COOKIE = "hy_lang"
# The sign-in form's CSRF token (double-submit: cookie and field must agree).
PRE_SESSION_COOKIE = "hy_pre"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


class Console(WebConsole):
    """What the views of one running platform share."""

    def __init__(
        self,
        settings: Settings,
        service: CustomerService,
        gates: Gatekeeper,
        sessions: ConsoleSessions,
    ) -> None:
        super().__init__(
            settings,
            gates,
            name="console",
            prefix=PREFIX,
            same_site="Lax",
            pre_session_cookie=PRE_SESSION_COOKIE,
            templates=TEMPLATES,
            static=STATIC,
            languages=LANGUAGES,
            locales=LOCALES,
            translations=translations,
            log=log,
            form_limits={
                "max_files": 1,
                "max_fields": 200,
                "max_part_size": settings.console.max_upload_bytes,
            },
        )
        self.service = service
        self.sessions = sessions

    def format_datetime(self, ms: int, language: str) -> str:
        moment = datetime.fromtimestamp(ms / 1000, self.zone)
        return format_datetime(moment, "medium", locale=LOCALES[language])

    def language(self, request: Request) -> str:
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return chosen if chosen in LANGUAGES else self.settings.console.default_language


@dataclass
class Page(WebPage):
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
    def site(self) -> Console:
        return self.console

    def access_fields(self) -> dict[str, str]:
        return {"uid": self.session.uid if self.session else ""}

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
            return to_sign_in(page)
        if request.method in METHODS_THAT_CHANGE:
            if page.session.read_only:
                # An operator's view (core/sessions.py start_viewing): here, and
                # only here, every change of such a session is refused.
                log.info("change refused in a read-only view", extra={"path": request.url.path})
                return finish(page, page.refuse(403, page.gettext(READ_ONLY)))
            refusal = await check_change(page, page.session.csrf_matches)
            if refusal is not None:
                return finish(page, refusal)
        return await run(page, view)

    return endpoint


def public(console: Console, view: View) -> Callable[[Request], Awaitable[Response]]:
    """A view for anyone (the sign-in page): a pre-session token guards its form."""

    async def endpoint(request: Request) -> Response:
        return await run_public(Page(console, request, console.language(request)), view)

    return endpoint
