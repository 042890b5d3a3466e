"""/admin/channels: each channel and bind live, routes and failover; pause and
resume a channel (admin; core/channel_control.py).

The figures are the worker's last report (core/channels_view.py); the page's
script (static/channels.js) reads /admin/channels.json every two seconds and
puts the new figures in place.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.live import bind_cells, bind_key, channel_cells, channels_json, live_of
from hongyan.admin.web import PREFIX, AdminPage, operator_view
from hongyan.core.channel_control import PAUSE, RESUME, ChannelControl
from hongyan.core.channels_view import channels_page

CHANNELS = f"{PREFIX}/channels"


def routes() -> list[BaseRoute]:
    return [
        Route("/channels", listing, methods=["GET"]),
        Route("/channels.json", figures, methods=["GET"]),
        Route("/channels/{name}/pause", pause, methods=["POST"]),
        Route("/channels/{name}/resume", resume, methods=["POST"]),
    ]


@operator_view()
async def listing(page: AdminPage) -> Response:
    # Read now, not the polls' cached answer: after a pause, the page shows it.
    found = await channels_page(page.admin.settings, page.admin.db)
    return page.render(
        "channels.html",
        found=found,
        cells={v.name: channel_cells(v) for v in found.channels},
        binds={bind_key(v.name, b): bind_cells(b) for v in found.channels for b in v.binds},
        bind_key=bind_key,
    )


@operator_view()
async def figures(page: AdminPage) -> Response:
    found = await live_of(page.admin).channels.get()
    return JSONResponse(channels_json(found, page.admin.local_time), headers=page.headers)


@operator_view(action=PAUSE)
async def pause(page: AdminPage) -> Response:
    name = page.request.path_params["name"]
    control = ChannelControl(page.admin.settings, page.admin.db)
    if await control.pause(page.actor, name):
        page.flash(
            page.gettext(
                "%(name)s is paused: nothing new is routed to it; receipts keep coming.",
                name=name,
            )
        )
    else:
        page.flash(page.gettext("%(name)s was paused already.", name=name), "info")
    return page.redirect(CHANNELS)


@operator_view(action=RESUME)
async def resume(page: AdminPage) -> Response:
    name = page.request.path_params["name"]
    control = ChannelControl(page.admin.settings, page.admin.db)
    if await control.resume(page.actor, name):
        page.flash(page.gettext("%(name)s is resumed.", name=name))
    else:
        page.flash(page.gettext("%(name)s was not paused.", name=name), "info")
    return page.redirect(CHANNELS)
