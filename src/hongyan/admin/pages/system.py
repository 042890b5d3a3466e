"""/admin/system: the sending and maintenance switches, blocked keywords (add,
remove, test a text against them), the queue, the push outbox per host, and
live throughput (static/live.js polls /admin/system/live.json each second).

The switches and keywords are core/admin.py's operations (role check and
audit entry inside); the keyword test is core/keyword_check.py, the API's
own content checks.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.live import live_of, throughput_json
from hongyan.admin.web import PREFIX, AdminPage, operator_view
from hongyan.core.admin import Operator
from hongyan.core.keyword_check import TEXT_MAX, KeywordCheck, check_text
from hongyan.core.system_view import system_view
from hongyan.errors import InvalidInput, NotFound
from hongyan.store.system import MAINTENANCE, PAUSED

SYSTEM = f"{PREFIX}/system"
ON = frozenset({"1", "on", "true", "yes"})
BREAKER_KINDS = {"closed": "ok", "open": "bad", "probing": "warn"}


def routes() -> list[BaseRoute]:
    return [
        Route("/system", overview, methods=["GET"]),
        Route("/system/live.json", live, methods=["GET"]),
        Route("/system/switch", switch, methods=["POST"]),
        Route("/system/keywords", add_keyword, methods=["POST"]),
        Route("/system/keywords/remove", remove_keyword, methods=["POST"]),
        Route("/system/keywords/test", test_keywords, methods=["GET", "POST"]),
    ]


def _seconds_label(page: AdminPage) -> Callable[[int], str]:
    return lambda at: page.admin.local_time(at * 1000, "%H:%M:%S")


async def _render(
    page: AdminPage, *, status: int = 200, check: KeywordCheck | None = None, error: str = ""
) -> Response:
    found = await system_view(page.admin.settings, page.admin.db, page.actor)
    seconds = await live_of(page.admin).throughput.get()
    return page.render(
        "system.html",
        status=status,
        found=found,
        live=throughput_json(seconds, _seconds_label(page)),
        check=check,
        keyword_error=error,
        text_max=TEXT_MAX,
        breaker_kinds=BREAKER_KINDS,
        paused_switch=PAUSED,
        maintenance_switch=MAINTENANCE,
    )


@operator_view()
async def overview(page: AdminPage) -> Response:
    return await _render(page)


@operator_view()
async def live(page: AdminPage) -> Response:
    """The last minute's throughput; answers are shared for a second (admin/live.py)."""
    seconds = await live_of(page.admin).throughput.get()
    return JSONResponse(throughput_json(seconds, _seconds_label(page)), headers=page.headers)


@operator_view(action="system.switch")
async def switch(page: AdminPage) -> Response:
    name, on = page.field("name"), page.field("on").lower() in ON
    await Operator(page.admin.settings, page.admin.db, actor=page.actor).set_switch(name, on)
    await page.admin.gates.refresh()  # this process's API answers by it at once
    messages = {
        (PAUSED, True): "Sending is paused: the API answers 111 to every send.",
        (PAUSED, False): "Sending is resumed.",
        (MAINTENANCE, True): "Maintenance is on: the API answers 120.",
        (MAINTENANCE, False): "Maintenance is over.",
    }
    # A switch core knows (store/system.SWITCHES) that this map does not: in general words.
    general = "%(name)s is on." if on else "%(name)s is off."
    page.flash(page.gettext(messages.get((name, on), general), name=name), "info" if on else "ok")
    return page.redirect(SYSTEM)


@operator_view(action="keyword.add")
async def add_keyword(page: AdminPage) -> Response:
    word = page.field("word")
    operator = Operator(page.admin.settings, page.admin.db, actor=page.actor)
    try:
        added = await operator.add_keyword(word)
    except InvalidInput as exc:
        return await _render(page, status=400, error=str(exc))
    await page.admin.gates.refresh()
    if added:
        page.flash(
            page.gettext("“%(word)s” is blocked: the API refuses texts with it (104).", word=word)
        )
    else:
        page.flash(page.gettext("“%(word)s” was blocked already.", word=word), "info")
    return page.redirect(SYSTEM)


@operator_view(action="keyword.remove")
async def remove_keyword(page: AdminPage) -> Response:
    word = page.field("word")
    operator = Operator(page.admin.settings, page.admin.db, actor=page.actor)
    try:
        await operator.remove_keyword(word)
    except NotFound as exc:
        page.flash(str(exc), "error")
    else:
        await page.admin.gates.refresh()
        page.flash(page.gettext("“%(word)s” is no longer blocked.", word=word))
    return page.redirect(SYSTEM)


@operator_view()
async def test_keywords(page: AdminPage) -> Response:
    """Reading only: which keywords a text hits, and whether the API would refuse it."""
    if page.form is not None:
        text = page.field("text")
    else:
        text = page.request.query_params.get("text", "").strip()
    keywords = await Operator(page.admin.settings, page.admin.db, actor=page.actor).keywords()
    return await _render(page, check=check_text(keywords, text) if text else None)
