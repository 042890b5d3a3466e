"""Send: numbers pasted or uploaded, the text, an optional time; a preview
that shows what will be sent and charged; then the send itself, through
`CustomerService.send` like /mt/ (same gates, checks, charge, limits).

Between the preview and the confirmation the numbers wait in a draft on the
server (store/drafts.py), so a 100,000-number upload travels once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console import uploads
from hongyan.console.web import PREFIX, Console, Page, _, signed_in
from hongyan.core.content import parts_of, sms_units
from hongyan.core.service import SendForm
from hongyan.errors import InvalidInput, Rejected

# Invalid and duplicate numbers listed on the preview; the rest are counted.
SHOWN = 20
UNREADABLE = _("The file could not be read: upload a .txt, .csv or .xlsx file.")
TOO_MANY = _("At most %(n)s numbers in one send.")
DRAFT_GONE = _("This send has already been made, or waited too long: please start again.")


def routes(console: Console) -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/send", signed_in(console, send_form), methods=["GET", "POST"]),
        Route(f"{PREFIX}/send/confirm", signed_in(console, confirm), methods=["POST"]),
    ]


@dataclass(frozen=True, slots=True)
class Typed:
    """What the customer typed, shown again when the form is refused."""

    numbers: str = ""
    content: str = ""
    time: str = ""  # as <input type="datetime-local"> gives it: YYYY-MM-DDTHH:MM


def _schedule(typed_time: str) -> str:
    """The browser's `YYYY-MM-DDTHH:MM` as /mt/'s `time` (Beijing time)."""
    return typed_time.replace("T", " ").strip()


async def send_form(page: Page) -> Response:
    account = await page.account()
    balance = await page.console.service.balance(account)
    if page.request.method == "GET":
        return _form(page, balance, Typed(), error="")
    typed = Typed(page.field("numbers"), _raw(page, "content"), page.field("time"))
    try:
        account = await page.account(sending=True)
        entries = await _entries(page, typed.numbers)
        limit = page.console.settings.console.max_numbers
        found = await asyncio.to_thread(uploads.review, entries)
        if found.total > limit * 2 or len(found.entries) > limit:
            raise InvalidInput(page.gettext(TOO_MANY, n=f"{limit:,}"))
        form = SendForm(
            mobile=",".join(found.entries), content=typed.content, time=_schedule(typed.time)
        )
        checked = await asyncio.to_thread(page.console.service.check, form, limit)
    except (Rejected, InvalidInput) as exc:
        return _form(page, balance, typed, error=page.problem(exc), status=400)
    draft = await page.console.service.drafts.save(
        page.account_id, list(found.entries), checked.content, form.time
    )
    parts = parts_of(checked.content)
    cost = parts * found.valid
    return page.render(
        "send_preview.html",
        draft=draft.id,
        review=found,
        shown=SHOWN,
        content=checked.content,
        units=sms_units(checked.content),
        parts=parts,
        cost=cost,
        balance=balance,
        after=balance - cost,
        due=checked.due,
    )


async def confirm(page: Page) -> Response:
    draft_id = page.field("draft")
    service = page.console.service
    # Taken before sending: a second click (or a second tab) finds it gone
    # and sends nothing twice.
    draft = await service.drafts.take(page.account_id, draft_id)
    if draft is None:
        return page.render("send_result.html", status=404, error=page.gettext(DRAFT_GONE))
    form = SendForm(
        mobile=",".join(draft.numbers.split("\n")), content=draft.content, time=draft.time
    )
    try:
        account = await page.account(sending=True)
        accepted = await service.send(
            account, form, post=True, max_numbers=page.console.settings.console.max_numbers
        )
    except Rejected as exc:
        # Nothing was stored or charged: the draft comes back, to try again.
        await service.drafts.restore(draft)
        return page.render("send_result.html", status=400, error=page.problem(exc), draft=draft.id)
    refused = await service.refused_numbers(account, accepted.submission_id, SHOWN)
    balance = await service.balance(account)
    return page.render(
        "send_result.html",
        error="",
        accepted=accepted,
        refused=refused,
        shown=SHOWN,
        balance=balance,
        content=draft.content,
    )


def _raw(page: Page, name: str) -> str:
    """A field as typed (the text keeps its spaces and line breaks)."""
    value = page.form.get(name) if page.form is not None else None
    return value if isinstance(value, str) else ""


def _form(page: Page, balance: int, typed: Typed, *, error: str, status: int = 200) -> Response:
    return page.render(
        "send.html",
        status=status,
        balance=balance,
        typed=typed,
        error=error,
        max_numbers=page.console.settings.console.max_numbers,
        max_chars=page.console.settings.max_content_chars,
        max_days=page.console.settings.max_schedule_days,
    )


async def _entries(page: Page, pasted: str) -> list[str]:
    """The pasted numbers, then those of the uploaded file, if any."""
    entries = await asyncio.to_thread(uploads.split_pasted, pasted)
    upload = page.form.get("file") if page.form is not None else None
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        try:
            entries += await asyncio.to_thread(uploads.read_file, upload.filename, data)
        except InvalidInput:
            raise InvalidInput(page.gettext(UNREADABLE)) from None
    return entries
