"""The operator console as an application: its pages, its static files, and
where it is served.

`admin_web(platform)` is the Starlette application of /admin/ (its views find
their `AdminConsole` in `request.app.state.admin`). The customer listener
mounts it at /admin when `[admin]` has no port (app.py); with a port,
`AdminListener` serves it alone on `admin.host:admin.port`, behind a front
door of its own (the customer listener then has no /admin/ at all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from hongyan.admin.pages import PAGES
from hongyan.admin.web import PREFIX, SECURITY_HEADERS, STATIC, AdminConsole
from hongyan.api.door import Door
from hongyan.console.webkit import Assets
from hongyan.core.operator_sessions import OperatorSessions

if TYPE_CHECKING:
    from hongyan.app import Platform

# Where /admin/ itself leads: the system page (admin/pages/system.py).
HOME = f"{PREFIX}/system"


def page_routes() -> list[BaseRoute]:
    """Every page's routes, relative to /admin."""
    found: list[BaseRoute] = [Mount("/static", Assets(directory=STATIC), name="admin-static")]
    for page in PAGES:
        found.extend(page())
    found.append(Route("/", _home))
    return found


def admin_web(platform: Platform) -> Starlette:
    """The /admin/ application of a platform (mounted at /admin)."""
    sessions = OperatorSessions(platform.settings, platform.db, platform.clock)
    web = Starlette(routes=page_routes())
    web.state.admin = AdminConsole(platform, sessions)
    return web


def mounted(platform: Platform) -> list[BaseRoute]:
    """The routes a listener adds to serve the operator console under /admin/."""
    return [Route(PREFIX, _home), Mount(PREFIX, app=admin_web(platform))]


async def _home(_request: Request) -> Response:
    return RedirectResponse(HOME, status_code=302, headers=SECURITY_HEADERS)


async def _to_admin(_request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=302, headers=SECURITY_HEADERS)


class AdminListener:
    """The operator console alone, for a listener of its own (`[admin] port`).

    It shares the platform of the customer listener in the same process (its
    lifespan starts and stops it), so it runs with uvicorn's lifespan off."""

    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        # What uvicorn's connections on this listener share (api/server.py finds it).
        self.door = Door(settings.http, settings.trusted_proxies, settings.access_log)
        routes: list[BaseRoute] = [Route("/", _to_admin), *mounted(platform)]
        self.web = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the customer listener's lifespan runs the platform
            return
        await self.web(scope, receive, send)
