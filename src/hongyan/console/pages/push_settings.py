"""Push settings on the settings page: where reports and replies go, a test
push, and turning push off. The rules (SSRF check, method, secret length)
are the operator's (`Operator.set_push`); the stored secret is never sent
back to the browser: an empty secret field keeps it, a new one replaces it.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.pages.settings import (
    SETTINGS,
    customer_settings,
    render_settings,
    viewer_of,
)
from hongyan.console.web import Console, Page, signed_in
from hongyan.core.states import OutboxKind
from hongyan.errors import InvalidInput


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{SETTINGS}/push", signed_in(console, save_push), methods=["POST"]),
        Route(f"{SETTINGS}/push/off", signed_in(console, push_off), methods=["POST"]),
        Route(f"{SETTINGS}/push/test", signed_in(console, push_test), methods=["POST"]),
    ]


async def save_push(page: Page) -> Response:
    service = customer_settings(page.console)
    secret = page.form.get("secret") if page.form is not None else None
    new_secret = secret if isinstance(secret, str) and secret else None
    if page.field("clear_secret") == "1":
        new_secret = ""
    try:
        await service.set_push(
            page.uid,
            replies=page.field("replies_url"),
            reports=page.field("reports_url"),
            method=page.field("method", "GET"),
            secret=new_secret,
            batch=page.field("batch") == "1",
            address=page.console.client_address(page.request),
            viewer=viewer_of(page),
        )
    except InvalidInput as exc:
        # The operator's own words say which value and why (an address that is
        # not public, a secret too short); the lead says it in the customer's language.
        message = page.gettext("The push settings were not saved: %(why)s", why=str(exc))
        return await render_settings(page, status=400, push_error=message)
    return page.redirect(SETTINGS, ok="push")


async def push_off(page: Page) -> Response:
    address = page.console.client_address(page.request)
    await customer_settings(page.console).push_off(page.uid, address, viewer_of(page))
    return page.redirect(SETTINGS, ok="push_off")


async def push_test(page: Page) -> Response:
    """Send one test push now and show its answer on the page."""
    kind = OutboxKind.REPLY if page.field("kind") == OutboxKind.REPLY else OutboxKind.REPORT
    try:
        result = await customer_settings(page.console).test_push(page.uid, kind)
    except InvalidInput:
        message = page.gettext("Set a URL for this kind of push first.")
        return await render_settings(page, status=400, push_error=message)
    return await render_settings(page, probe=result)
