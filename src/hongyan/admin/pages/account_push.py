"""/admin/accounts/<uid>/test-push: one signed test report (or reply) to the
account's push URL of that kind, now, and what its server answered, as a
flash on the account's page.

Core's `Operator.test_push` checks the role ("push.test": admin, support),
makes the request with the pusher's own code and writes the audit entry; the
account page shows the buttons only for a kind whose URL is set.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.pages.accounts import account_url
from hongyan.admin.web import AdminPage, operator_view
from hongyan.core.admin import Operator
from hongyan.core.states import OutboxKind
from hongyan.errors import InvalidInput


def routes() -> list[BaseRoute]:
    return [Route("/accounts/{uid}/test-push", test_push, methods=["POST"])]


@operator_view(action="push.test")
async def test_push(page: AdminPage) -> Response:
    uid = page.request.path_params["uid"]
    back = account_url(uid)
    given = page.field("kind")
    if given not in (OutboxKind.REPORT, OutboxKind.REPLY):
        page.flash(page.gettext("kind is report or reply."), "error")
        return page.redirect(back)
    kind = OutboxKind(given)
    operator = Operator(page.admin.settings, page.admin.db, actor=page.actor)
    try:
        result = await operator.test_push(uid, kind)
    except InvalidInput:
        # Core's only refusal once the role is allowed: no URL of that kind.
        page.flash(page.gettext("Set a URL for this kind of push first."), "error")
        return page.redirect(back)
    report = kind == OutboxKind.REPORT
    label = page.gettext("status report") if report else page.gettext("reply")
    if result.status is None:  # no answer, or not a 2xx one (the error says which)
        message = page.gettext(
            "Test %(kind)s push to %(url)s failed: %(error)s",
            kind=label,
            url=result.url,
            error=result.error,
        )
    else:
        message = page.gettext(
            "Test %(kind)s push: %(url)s answered HTTP %(status)s.",
            kind=label,
            url=result.url,
            status=result.status,
        )
    page.flash(message, "ok" if result.ok else "error")
    return page.redirect(back)
