"""The console's routes, assembled from its pages, and the sub-application serving them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hongyan.console.pages import PAGES
from hongyan.console.web import PREFIX, SECURITY_HEADERS, STATIC, Console


class _Static(StaticFiles):
    """The console's own assets: cached a year (their URLs change with them)."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response


def routes(console: Console) -> list[BaseRoute]:
    found: list[BaseRoute] = [Mount(f"{PREFIX}/static", _Static(directory=STATIC), name="static")]
    for page in PAGES:
        found.extend(page(console))
    found.append(Route("/", _to_console))
    found.append(Route(PREFIX, _to_console))
    return found


async def _to_console(_request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=302, headers=SECURITY_HEADERS)
