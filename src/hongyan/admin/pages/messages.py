"""/admin/messages: every account's messages, searched (core/message_search.py),
and /admin/messages/<id>: one message's whole life (core/message_life.py).

Reading only, open to every role. The filters are read by core
(`search_filter`); what a status means is core/receipt_codes.py's.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.web import PREFIX, AdminPage, operator_view, url_with
from hongyan.core.channel_control import channel_names
from hongyan.core.message_life import EventKind, MessageLives
from hongyan.core.message_search import MessageSearch, search_filter
from hongyan.core.receipt_codes import explain
from hongyan.core.states import StatusClass
from hongyan.errors import InvalidInput, NotFound

MESSAGES = f"{PREFIX}/messages"
# The search form's fields, as the query string names them (kept in every link).
FILTER_FIELDS = ("mobile", "id", "uid", "batch", "channel", "status", "since", "until")
STATUS_CLASSES = (StatusClass.DELIVERED, StatusClass.FAILED, StatusClass.WAITING)
TEXT_SHOWN = 40  # characters of a message's text in the list


def routes() -> list[BaseRoute]:
    return [
        Route("/messages", listing, methods=["GET"]),
        Route("/messages/{message_id:int}", life, methods=["GET"]),
    ]


def _given(page: AdminPage) -> dict[str, str]:
    query = page.request.query_params
    return {name: query.get(name, "").strip()[:100] for name in FILTER_FIELDS}


def _cursor(page: AdminPage, name: str) -> int | None:
    raw = page.request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


def shorten(text: str, limit: int = TEXT_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def elapsed(ms: int) -> str:
    """How long after acceptance, as a person reads it: +52 ms, +1.234 s, +2 min 5 s."""
    if ms < 1000:
        return f"+{ms} ms"
    if ms < 60_000:
        return f"+{ms / 1000:.3f} s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"+{seconds // 60} min {seconds % 60} s"
    if seconds < 86_400:
        return f"+{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"+{seconds // 86_400} d {seconds % 86_400 // 3600} h"


@operator_view()
async def listing(page: AdminPage) -> Response:
    """The search form and a page of what it finds, newest first."""
    admin = page.admin
    given = _given(page)
    names = list(channel_names(admin.settings))
    if given["channel"] and given["channel"] not in names:
        names.append(given["channel"])
    context: dict[str, Any] = {
        "given": given,
        "channels": [("", page.gettext("Any channel")), *((n, n) for n in names)],
        "status_classes": STATUS_CLASSES,
        "explain": explain,
        "shorten": shorten,
        "filtered": any(given.values()),
    }
    try:
        f = search_filter(
            admin.zone,
            mobile=given["mobile"],
            message_id=given["id"],
            uid=given["uid"],
            batch=given["batch"],
            channel=given["channel"],
            status=given["status"],
            since=given["since"],
            until=given["until"],
        )
        window = await MessageSearch(admin.db).search(
            f, before=_cursor(page, "before"), after=_cursor(page, "after")
        )
    except (InvalidInput, NotFound) as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return page.render(
            "messages.html", status=status, error=str(exc), window=None, pager={}, **context
        )
    pager = {
        "newer": url_with(MESSAGES, given, after=window.newer) if window.newer else "",
        "older": url_with(MESSAGES, given, before=window.older) if window.older else "",
        "newest": url_with(MESSAGES, given) if window.newer else "",
    }
    return page.render("messages.html", error="", window=window, pager=pager, **context)


@operator_view()
async def life(page: AdminPage) -> Response:
    """One message from its acceptance to its report handed out or pushed."""
    message_id = page.request.path_params["message_id"]
    found = await MessageLives(page.admin.db).life(message_id)
    if found is None:
        raise NotFound(page.gettext("There is no message %(id)s.", id=message_id))

    def at(ms: int | None) -> str:
        if not ms:
            return ""
        return f"{page.admin.local_time(ms)}.{ms % 1000:03d}"

    return page.render(
        "message_life.html",
        life=found,
        kinds=EventKind,
        at=at,
        elapsed=lambda ms: elapsed(max(0, ms - found.created_at)),
    )
