"""/admin/audit: every operator action, console or CLI, newest first; who, from
where, what, on what, each changed field before and after. Every role reads it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, AdminPage, operator_view, url_with
from hongyan.core import audit_log
from hongyan.core.roles import ACTIONS
from hongyan.errors import InvalidInput

AUDIT = f"{PREFIX}/audit"
PAGE_SIZE = 50
FILTERS = ("actor", "action", "target", "from", "to")
# The action prefixes offered in the filter (any prefix may be typed).
ACTION_CHOICES = sorted({a.split(".")[0] + "." for a in ACTIONS} | set(ACTIONS))


def routes() -> list[BaseRoute]:
    return [Route("/audit", listing, methods=["GET"])]


def target_href(target: str) -> str:
    """The page of what an entry acted on, or "" when it has none."""
    kind, _, name = target.partition(":")
    if not name:
        return ""
    if kind == "account":
        return f"{PREFIX}/accounts/{quote(name, safe='')}"
    if kind == "channel":
        return f"{PREFIX}/channels"
    if kind == "operator":
        return f"{PREFIX}/operators"
    if kind in ("keyword", "system"):
        return f"{PREFIX}/system"
    return ""


def shown(value: Any) -> str:
    """A changed field's value as text: a string as it is, a whole number with
    its thousands grouped (balances, amounts), anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _before_id(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("not a page of the audit log")
    return int(text)


@operator_view()
async def listing(page: AdminPage) -> Response:
    params = page.request.query_params
    given = {name: params.get(name, "").strip() for name in FILTERS}
    error = ""
    rows: list[audit_log.Entry] = []
    try:
        since, until = audit_log.time_range(given["from"], given["to"], page.admin.zone)
    except InvalidInput as exc:
        error = str(exc)
    else:
        rows = await audit_log.entries(
            page.admin.db,
            actor=given["actor"],
            action=given["action"],
            target=given["target"],
            since=since,
            until=until,
            before_id=_before_id(params.get("before", "")),
            limit=PAGE_SIZE + 1,
        )
    shown_rows = rows[:PAGE_SIZE]
    older = ""
    if len(rows) > PAGE_SIZE:
        older = url_with(AUDIT, given, before=shown_rows[-1].id)
    return page.render(
        "audit.html",
        status=400 if error else 200,
        entries=[(e, audit_log.changes(e), target_href(e.target)) for e in shown_rows],
        given=given,
        error=error,
        older=older,
        newest=url_with(AUDIT, given) if params.get("before") else "",
        action_choices=ACTION_CHOICES,
        shown=shown,
        filtered=any(given.values()),
    )
