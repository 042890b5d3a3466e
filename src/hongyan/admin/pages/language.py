"""/admin/language/<zh|en>: the operator's language, kept in a cookie (a year),
then back to the page it was chosen on."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.i18n import LANGUAGES
from hongyan.admin.pages.sign_in import safe_next
from hongyan.admin.web import LANGUAGE_COOKIE, AdminPage, cookie, operator_view

# A year: the language is a preference, not a secret.
LANGUAGE_MAX_AGE = 365 * 24 * 3600


def routes() -> list[BaseRoute]:
    return [Route("/language/{language}", choose, methods=["GET"])]


@operator_view()
async def choose(page: AdminPage) -> Response:
    language = page.request.path_params["language"]
    if language in LANGUAGES:
        value = cookie(page.admin, page.request, LANGUAGE_COOKIE, language, LANGUAGE_MAX_AGE)
        page.cookies.append(value)
    return page.redirect(safe_next(page.request.query_params.get("back", "")))
