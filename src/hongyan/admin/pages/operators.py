"""/admin/operators: the operators, their roles; create, disable, enable (admin)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, AdminPage, operator_view
from hongyan.core.operators import MIN_PASSWORD_LENGTH
from hongyan.errors import InvalidInput

OPERATORS = f"{PREFIX}/operators"
SORTS = {
    "name": lambda r: r.name,
    "role": lambda r: (r.role, r.name),
    "signed_in": lambda r: (r.signed_in_at or 0, r.name),
    "created": lambda r: (r.created_at, r.name),
}


def routes() -> list[BaseRoute]:
    return [
        Route("/operators", listing, methods=["GET"]),
        Route("/operators", create, methods=["POST"]),
        Route("/operators/{name}/disable", disable, methods=["POST"]),
        Route("/operators/{name}/enable", enable, methods=["POST"]),
        Route("/operators/{name}/role", role, methods=["POST"]),
    ]


async def _listing(
    page: AdminPage, status: int = 200, error: str = "", typed: str = ""
) -> Response:
    records = await page.admin.operators.list()
    sort = page.request.query_params.get("sort", "name")
    key = SORTS.get(sort.lstrip("-"))
    if key is None:
        sort, key = "name", SORTS["name"]
    records.sort(key=key, reverse=sort.startswith("-"))
    return page.render(
        "operators.html",
        status=status,
        records=records,
        sort=sort,
        error=error,
        typed=typed,
        now=page.admin.sessions.now(),
        min_length=MIN_PASSWORD_LENGTH,
    )


@operator_view()
async def listing(page: AdminPage) -> Response:
    return await _listing(page)


@operator_view(action="operator.create")
async def create(page: AdminPage) -> Response:
    name = page.field("name")
    password, again = page.secret_field("password"), page.secret_field("again")
    if password != again:
        return await _listing(page, 400, page.gettext("The two passwords differ."), name)
    try:
        await page.admin.operators.create(page.actor, name, page.field("role"), password)
    except InvalidInput as exc:
        return await _listing(page, 400, str(exc), name)
    page.flash(page.gettext("Operator %(name)s created.", name=name))
    return page.redirect(OPERATORS)


@operator_view(action="operator.disable")
async def disable(page: AdminPage) -> Response:
    name = page.request.path_params["name"]
    try:
        await page.admin.operators.disable(page.actor, name)
    except InvalidInput as exc:
        page.flash(str(exc), "error")
    else:
        page.flash(page.gettext("%(name)s is disabled; their sessions have ended.", name=name))
    return page.redirect(OPERATORS)


@operator_view(action="operator.enable")
async def enable(page: AdminPage) -> Response:
    name = page.request.path_params["name"]
    await page.admin.operators.enable(page.actor, name)
    page.flash(page.gettext("%(name)s is enabled.", name=name))
    return page.redirect(OPERATORS)


@operator_view(action="operator.role")
async def role(page: AdminPage) -> Response:
    name = page.request.path_params["name"]
    chosen = page.field("role")
    try:
        await page.admin.operators.set_role(page.actor, name, chosen)
    except InvalidInput as exc:
        page.flash(str(exc), "error")
    else:
        page.flash(page.gettext("%(name)s now has the role %(role)s.", name=name, role=chosen))
    return page.redirect(OPERATORS)
