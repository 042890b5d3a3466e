"""Settings: IP binding (with a warning before locking out the API clients
calling now), push (push_settings.py), and the account's limits, read-only.

Every change acts on the signed-in account (`page.uid`), through
core/customer_settings.py: the operator's rules and store code, the gates'
cache refreshed at once.
"""

from __future__ import annotations

import weakref
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.core.bindings import BindingRefused
from hongyan.core.customer_settings import BindingChange, CustomerSettings
from hongyan.core.limits import Window
from hongyan.errors import NotFound
from hongyan.push.probe import ProbeResult

SETTINGS = f"{PREFIX}/settings"

# What a change's redirect says (`?ok=`): fixed messages, never text from the URL.
DONE = {
    "binding_added": _(
        "The address is bound: API requests from other addresses are now refused (117)."
    ),
    "binding_removed": _("The binding is removed."),
    "push": _("The push settings are saved."),
    "push_off": _("Push is off: reports and replies are fetched by /st/ and /rx/ again."),
}
BINDING_REFUSED = {
    "invalid": _("This is not an IP address or CIDR range (e.g. 203.0.113.7 or 203.0.113.0/24)."),
    "duplicate": _("This address is already bound."),
    "full": _("At most %(n)s addresses can be bound: remove one first."),
}
# A per-number window in words: (unit seconds, "one unit", "n units").
WINDOW_WORDS = (
    (86400, _("%(count)s a day"), _("%(count)s every %(n)s days")),
    (3600, _("%(count)s an hour"), _("%(count)s every %(n)s hours")),
    (60, _("%(count)s a minute"), _("%(count)s every %(n)s minutes")),
    (1, _("%(count)s a second"), _("%(count)s every %(n)s seconds")),
)

_services: weakref.WeakKeyDictionary[Console, CustomerSettings] = weakref.WeakKeyDictionary()


def customer_settings(console: Console) -> CustomerSettings:
    """The console's settings use cases (one per running console)."""
    found = _services.get(console)
    if found is None:
        found = _services[console] = CustomerSettings(
            console.settings, console.service.db, console.gates
        )
    return found


def viewer_of(page: Page) -> str:
    """The operator viewing this session read-only ("" for the customer's own):
    core refuses every change of such a session."""
    return page.session.viewer if page.session is not None else ""


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(SETTINGS, signed_in(console, settings_page), methods=["GET"]),
        Route(f"{SETTINGS}/addresses", signed_in(console, change_binding), methods=["POST"]),
    ]


def window_words(page: Page, window: Window) -> str:
    for size, one, many in WINDOW_WORDS:
        if window.seconds % size == 0:
            n = window.seconds // size
            return (
                page.gettext(one, count=window.count)
                if n == 1
                else page.gettext(many, count=window.count, n=n)
            )
    raise AssertionError("a window is a whole number of seconds")


async def render_settings(
    page: Page,
    *,
    status: int = 200,
    pending: BindingChange | None = None,
    error: str = "",
    push_error: str = "",
    probe: ProbeResult | None = None,
    typed: str = "",
) -> Response:
    """The settings page; a change that needs confirming or failed is shown on it."""
    service = customer_settings(page.console)
    summary = await service.summary(page.uid)
    limits = service.limits(summary)
    client = page.console.client_address(page.request)
    target = await service.push_target(page.uid)
    done = DONE.get(page.request.query_params.get("ok", ""))
    push: dict[str, Any] = {
        # The secret is never shown again: only whether there is one.
        "replies_url": target.replies_url if target else "",
        "reports_url": target.reports_url if target else "",
        "method": target.method if target else "GET",
        "batch": target.batch_reports if target else False,
        "secret_set": bool(target and target.secret),
        "on": target is not None,
    }
    return page.render(
        "settings.html",
        status=status,
        done=page.gettext(done) if done else "",
        error=error,
        push_error=push_error,
        networks=summary.networks,
        client=client,
        recent=service.recent_clients(summary),
        pending=pending,
        typed=typed,
        limits=limits,
        per_number=[window_words(page, w) for w in limits.per_number],
        push=push,
        probe=probe,
        attempts=await service.push_attempts(page.account_id),
    )


async def settings_page(page: Page) -> Response:
    return await render_settings(page)


async def change_binding(page: Page) -> Response:
    """Add or remove a binding; one that would refuse a client calling now is
    shown with those clients first, and made only once confirmed."""
    service = customer_settings(page.console)
    adding = page.field("action") != "remove"
    text = page.field("address")
    try:
        change = await service.preview(page.uid, text, adding=adding)
        if change.refused and page.field("confirm") != "1":
            return await render_settings(page, pending=change, typed=text)
        address = page.console.client_address(page.request)
        if adding:
            await service.bind(page.uid, change.network, address, viewer_of(page))
            return page.redirect(SETTINGS, ok="binding_added")
        await service.unbind(page.uid, change.network, address, viewer_of(page))
        return page.redirect(SETTINGS, ok="binding_removed")
    except BindingRefused as exc:
        message = page.gettext(
            BINDING_REFUSED[exc.reason], n=page.console.settings.max_bound_addresses
        )
        return await render_settings(page, status=400, error=message, typed=text)
    except NotFound:
        message = page.gettext("This address is not bound.")
        return await render_settings(page, status=400, error=message)
