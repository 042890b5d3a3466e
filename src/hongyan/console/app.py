"""The console's routes, assembled from its pages, and the sub-application serving them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from hongyan.console.pages import PAGES
from hongyan.console.web import PREFIX, SECURITY_HEADERS, STATIC, Console
from hongyan.console.webkit import Assets


def routes(console: Console) -> list[BaseRoute]:
    found: list[BaseRoute] = [Mount(f"{PREFIX}/static", Assets(directory=STATIC), name="static")]
    for page in PAGES:
        found.extend(page(console))
    found.append(Route("/", _to_console))
    found.append(Route(PREFIX, _to_console))
    return found


async def _to_console(_request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=302, headers=SECURITY_HEADERS)
