"""/admin/accounts/<uid>: one account as an operator sees it, and its forms.

Each form posts to /admin/accounts/<uid>/<change> and comes back to the
account's page with a flash saying what happened (or what was wrong). The
rules (who may, what is valid, the audit entry) are core's (core/admin.py,
core/admin_push.py, core/access.py); a form is shown only to a role that
allows its action, and a role that does not gets the 403 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.admin.pages.accounts import account_url
from hongyan.admin.pages.audit import shown
from hongyan.admin.web import AdminPage, Endpoint, operator_view
from hongyan.core import audit_log
from hongyan.core.admin import Operator
from hongyan.core.admin_base import account_target
from hongyan.core.ledger import ledger_page, period
from hongyan.core.overview import ChartRange, overview
from hongyan.errors import InvalidInput
from hongyan.store.engine import now_ms

LEDGER_ROWS = 10
AUDIT_ROWS = 15
# What a change does, given the page (its form) and an Operator of its actor,
# for the account `uid`: the flash to show.
Change = Callable[[AdminPage, Operator, str], Awaitable[str]]


def operator_of(page: AdminPage) -> Operator:
    return Operator(page.admin.settings, page.admin.db, actor=page.actor)


@operator_view()
async def account(page: AdminPage) -> Response:
    uid = page.request.path_params["uid"]
    admin = page.admin
    op = operator_of(page)
    summary = await op.show(uid)
    now = now_ms()
    figures = await overview(admin.db, summary.id, admin.zone, now, ChartRange.DAY)
    ledger = await ledger_page(
        admin.db, summary.id, period("", "", admin.zone, now), admin.zone, None
    )
    entries = await audit_log.entries(admin.db, target=account_target(uid), limit=AUDIT_ROWS)
    return page.render(
        "account.html",
        account=summary,
        gateway=op.gateway_number(summary),
        figures=figures,
        ledger=ledger.rows[:LEDGER_ROWS],
        push=await op.push_target(uid),
        locks=await op.access.locks(uid),
        entries=[(e, audit_log.changes(e)) for e in entries],
        shown=shown,
        url=account_url(uid),
    )


def _change(action: str, change: Change) -> Endpoint:
    """The endpoint of one form: `change` for a role allowing `action`, then
    back to the account with a flash (an error's own message when it is refused)."""

    async def view(page: AdminPage) -> Response:
        uid = page.request.path_params["uid"]
        try:
            message = await change(page, operator_of(page), uid)
        except InvalidInput as exc:
            page.flash(str(exc), "error")
        else:
            # This process answers with the change at once (others at their next poll).
            await page.admin.gates.refresh()
            page.flash(message)
        return page.redirect(account_url(uid))

    view.__name__ = action.replace(".", "_")
    return operator_view(action=action)(view)


def _parts(page: AdminPage) -> int:
    raw = page.field("amount").replace(",", "").replace(" ", "")
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(page.gettext("The amount is a whole number of parts."))
    # Core refuses an amount over its bound; digits past any bound are not
    # converted (Python refuses over 4,300 of them), they are simply too many.
    return int(raw) if len(raw) <= 30 else 10**30


async def _topup(page: AdminPage, op: Operator, uid: str) -> str:
    balance = await op.topup(uid, _parts(page), page.field("note"))
    return page.gettext("Topped up: the balance is now %(n)s parts.", n=f"{balance:,}")


async def _deduct(page: AdminPage, op: Operator, uid: str) -> str:
    balance = await op.deduct(uid, _parts(page), page.field("note"))
    return page.gettext("Deducted: the balance is now %(n)s parts.", n=f"{balance:,}")


async def _freeze(page: AdminPage, op: Operator, uid: str) -> str:
    await op.set_frozen(uid, True)
    return page.gettext("%(uid)s is frozen: its requests answer 109.", uid=uid)


async def _unfreeze(page: AdminPage, op: Operator, uid: str) -> str:
    await op.set_frozen(uid, False)
    return page.gettext("%(uid)s is no longer frozen.", uid=uid)


async def _unlock(page: AdminPage, op: Operator, uid: str) -> str:
    lifted = await op.access.unlock(uid)
    return page.gettext("Locks lifted: %(n)s.", n=len(lifted))


# A form's yes/no field: "1" or "0".
_YES_NO = {"1": True, "0": False}


def _on(page: AdminPage) -> bool:
    value = _YES_NO.get(page.field("on"))
    if value is None:
        raise InvalidInput(page.gettext("on is 1 or 0"))
    return value


async def _api_send(page: AdminPage, op: Operator, uid: str) -> str:
    on = _on(page)
    await op.set_api_send(uid, on)
    if on:
        return page.gettext("API sending is on.")
    return page.gettext("API sending is off: /mt/ answers 121.")


async def _refund(page: AdminPage, op: Operator, uid: str) -> str:
    on = _on(page)
    await op.set_refund(uid, on)
    if on:
        return page.gettext("Failed messages are refunded now.")
    return page.gettext("Failed messages are no longer refunded.")


async def _limits(page: AdminPage, op: Operator, uid: str) -> str:
    await op.set_limits(
        uid, rate=page.field("rate") or None, per_number=page.field("per_number") or None
    )
    return page.gettext("Limits saved.")


async def _extension(page: AdminPage, op: Operator, uid: str) -> str:
    changed = await op.set_extension(uid, page.field("code"))
    return page.gettext(
        "Extension %(code)s: replies to %(number)s reach %(uid)s.",
        code=changed.ext_code,
        number=op.gateway_number(changed),
        uid=uid,
    )


async def _dialect(page: AdminPage, op: Operator, uid: str) -> str:
    """One change a form: the dialect if another is chosen, else whether `pwd`
    may be md5(password) alone (which needs the login password, `login_password`)."""
    summary = await op.show(uid)
    chosen = page.field("dialect", summary.dialect.value)
    if chosen != summary.dialect.value:
        changed = await op.access.set_dialect(uid, chosen)
        return page.gettext("Answers are in the %(d)s dialect now.", d=changed.dialect.value)
    bare = _YES_NO.get(page.field("bare_md5"))
    if bare is not None and bare != summary.bare_md5:
        password = page.secret_field("login_password") or None
        await op.access.set_bare_md5(uid, bare, password)
        if bare:
            return page.gettext("pwd may also be md5(password) without the uid.")
        return page.gettext("pwd must be md5(password + uid) again.")
    return page.gettext("Nothing changed.")


async def _push(page: AdminPage, op: Operator, uid: str) -> str:
    await op.set_push(
        uid,
        replies=page.field("replies"),
        reports=page.field("reports"),
        method=page.field("method") or None,
        # Left empty: the secret stays as it is; "remove" ticked: unsigned pushes.
        secret="" if page.field("remove_secret") == "1" else page.secret_field("secret") or None,
        batch=page.field("batch") == "1",
    )
    return page.gettext("Push settings saved.")


async def _bind(page: AdminPage, op: Operator, uid: str) -> str:
    network = await op.bind_address(uid, page.field("address"))
    return page.gettext("%(net)s is bound.", net=network)


async def _unbind(page: AdminPage, op: Operator, uid: str) -> str:
    network = await op.unbind_address(uid, page.field("address"))
    return page.gettext("%(net)s is no longer bound.", net=network)


async def _password(page: AdminPage, op: Operator, uid: str) -> str:
    await op.access.set_password(uid, page.secret_field("password"))
    return page.gettext("The password is changed; the customer's console sessions have ended.")


FORMS: dict[str, tuple[str, Change]] = {
    "topup": ("account.topup", _topup),
    "deduct": ("account.deduct", _deduct),
    "freeze": ("account.freeze", _freeze),
    "unfreeze": ("account.unfreeze", _unfreeze),
    "unlock": ("account.unlock", _unlock),
    "api-send": ("account.api_send", _api_send),
    "refund": ("account.refund", _refund),
    "limits": ("account.limits", _limits),
    "extension": ("account.extension", _extension),
    "dialect": ("account.dialect", _dialect),
    "push": ("account.push", _push),
    "bind": ("account.bind", _bind),
    "unbind": ("account.unbind", _unbind),
    "password": ("account.password", _password),
}


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [Route("/accounts/{uid}", account, methods=["GET"])]
    for path, (action, change) in FORMS.items():
        found.append(Route(f"/accounts/{{uid}}/{path}", _change(action, change), methods=["POST"]))
    return found
