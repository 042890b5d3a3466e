"""The operator console's story in a real browser, as the issue tells it: an
admin creates an account and tops it up, the customer signs in and sends,
the operator finds the message and follows its whole life, freezes the
account and the customer's next API call answers 109, and the audit log
shows both actions with their values before and after; a support operator
cannot top up; a customer's session cannot reach /admin/. Screenshots of
the messages pages at 1280 px (and a phone's width)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Customer, RunningServer
from tests.e2e.conftest import DESKTOP, TIMEOUT_MS, sign_in
from tests.integration.admin_client import audit_entries, make_operator
from tests.waiting import until

STAT_109 = "sms&stat=109"


@pytest.fixture
def other(browser: Any) -> Iterator[Callable[[], Any]]:
    """More browsers (fresh contexts) beside `page`: a customer's, another operator's."""
    contexts: list[Any] = []

    def open_tab() -> Any:
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_tab
    for context in contexts:
        context.close()


def operator_signs_in(page: Any, server: RunningServer, name: str, password: str, to: str) -> None:
    """Open `to` (an /admin/ page), meet the sign-in form, and land on `to`."""
    page.goto(f"{server.url}{to}")
    page.wait_for_url(re.compile(r".*/admin/sign-in\?next=.*"))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf".*{re.escape(to)}$"))


def submit(page: Any, form: str) -> None:
    """Submit the form and wait for the next page (a confirmation it asks is accepted:
    see `confirming`)."""
    with page.expect_navigation():
        page.locator(form).locator("button[type=submit]").click()


def wait_for_life(page: Any, kind: str) -> None:
    """Reload the life page until it shows an event of `kind`."""

    def shown() -> bool:
        page.reload()
        return bool(page.locator(f"[data-testid=timeline] [data-kind={kind}]").count())

    until(shown, f"the life shows {kind}")


def confirming(page: Any) -> Any:
    """`page`, accepting every confirmation a form asks (a destructive button's)."""
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def balance(server: RunningServer, customer: Customer) -> int:
    """The balance as the customer's API tells it (/mm/)."""
    return int(server.get("/mm/", customer.auth()).text.split("remain=")[1])


def stored_balance(server: RunningServer, uid: str) -> int:
    """The balance as the store keeps it (the API answers a frozen account 109)."""
    return server.operate(lambda op: op.show(uid)).balance


def test_the_operators_story(page: Any, other: Callable[[], Any], console: RunningServer) -> None:
    admin = make_operator(console, "admin")
    confirming(page)
    operator_signs_in(page, console, admin.name, admin.password, "/admin/accounts/new")

    # The admin creates an account and tops it up.
    customer = Customer(f"flow{secrets.token_hex(3)}", "flow-pass-2468")
    page.fill("input[name=uid]", customer.uid)
    page.fill("input[name=password]", customer.password)
    page.fill("input[name=balance]", "10")
    submit(page, "form:has(input[name=uid])")
    page.goto(f"{console.url}/admin/accounts/{customer.uid}")
    page.fill("form[action$='/topup'] input[name=amount]", "500")
    page.fill("form[action$='/topup'] input[name=note]", "paid by transfer 20261103")
    submit(page, "form[action$='/topup']")
    assert balance(console, customer) == 510

    # The customer signs in to the console and sends one message.
    mine = other()
    sign_in(mine, console, customer)
    mine.click("[data-nav=send]")
    mine.fill("textarea[name=numbers]", "13812345678")
    mine.fill("textarea[name=content]", "【鸿雁】您的验证码是 246810，5 分钟内有效。")
    mine.click("[data-testid=preview]")
    mine.click("[data-testid=confirm]")
    assert mine.text_content("[data-testid=accepted]").strip() == "1"

    # The operator finds it by the number and follows its life to the report.
    page.goto(f"{console.url}/admin/messages")
    page.fill("form.filter-bar input[name=mobile]", "13812345678")  # this module's alone
    with page.expect_navigation():
        page.click("form.filter-bar button[type=submit]")
    rows = page.locator("table[data-testid=messages] tbody tr")
    assert rows.count() == 1 and customer.uid in rows.inner_text()
    with page.expect_navigation():
        rows.locator("[data-testid^=life-]").click()
    assert re.search(r"/admin/messages/\d+$", page.url)
    wait_for_life(page, "report_written")
    assert page.locator("[data-testid=life-state] [data-state=delivered]").count() == 1
    timeline = page.get_by_test_id("timeline").inner_text()
    for said in ("Accepted", "Charged 1 part", "Part 1 submitted", "Part 1 receipt"):
        assert said in timeline
    assert page.get_by_test_id("life-account").get_attribute("href") == (
        f"/admin/accounts/{customer.uid}"
    )

    # The operator freezes the account: the customer's next API call answers 109.
    page.goto(f"{console.url}/admin/accounts/{customer.uid}")
    submit(page, "form[action$='/freeze']")

    async def frozen() -> bool:
        account = await console.platform.gates.account(customer.uid)
        return account is not None and account.frozen

    until(lambda: console.on_server(frozen()), "the API sees the account frozen")
    answer = console.get(
        "/mt/", {**customer.auth(), "mobile": "13812345679", "content": "【鸿雁】再来一条"}
    )
    assert answer.text.startswith(STAT_109), answer.text

    # The audit log shows both actions, with the values before and after.
    page.goto(f"{console.url}/admin/audit?target=account:{customer.uid}")
    rows = page.locator("table[data-testid=audit] tbody tr")
    by_action = {
        rows.nth(i).locator(".audit-action").inner_text(): rows.nth(i) for i in range(rows.count())
    }
    assert {"account.topup", "account.freeze"} <= set(by_action)
    topup = by_action["account.topup"]
    assert topup.locator(".change-old").first.inner_text() == "10"
    assert "510" in topup.locator(".change-new").all_inner_texts()
    assert "paid by transfer 20261103" in topup.inner_text()
    freeze = by_action["account.freeze"]
    assert freeze.locator(".change-old").inner_text() == "false"
    assert freeze.locator(".change-new").inner_text() == "true"
    assert admin.name in topup.inner_text() and admin.name in freeze.inner_text()

    # A support operator sees the account but no top-up, and a forged one is refused.
    support = make_operator(console, "support")
    theirs = confirming(other())
    operator_signs_in(theirs, console, support.name, support.password, "/admin/messages")
    theirs.goto(f"{console.url}/admin/accounts/{customer.uid}")
    assert theirs.locator("form[action$='/freeze'], form[action$='/unfreeze']").count() >= 1
    assert theirs.locator("form[action$='/topup']").count() == 0
    entries = len(audit_entries(console, target=f"account:{customer.uid}"))
    assert stored_balance(console, customer.uid) == 509  # 510, less the message sent
    theirs.evaluate(
        """uid => { const f = document.createElement('form'); f.method = 'post';
           f.action = '/admin/accounts/' + uid + '/topup';
           for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value],
                                 ['amount', '1000'], ['note', 'forged']]) {
             const i = document.createElement('input'); i.name = k; i.value = v;
             f.appendChild(i);
           }
           document.body.appendChild(f); f.submit(); }""",
        customer.uid,
    )
    theirs.wait_for_selector("[data-testid=forbidden]")
    assert len(audit_entries(console, target=f"account:{customer.uid}")) == entries
    assert stored_balance(console, customer.uid) == 509

    # The customer's console session does not open the operator console.
    mine.goto(f"{console.url}/admin/")
    mine.wait_for_url(re.compile(r".*/admin/sign-in(\?.*)?$"))
    assert mine.locator("[data-testid=operator-name]").count() == 0


def test_messages_and_a_life_look_finished(
    page: Any, console: RunningServer, shoot: Callable[[Any, str], None]
) -> None:
    customer = console.customer(balance=1000)
    console.operate(lambda op: op.set_refund(customer.uid, True))
    for mobile, text in (
        (
            "13812340000,13812345670",
            "【鸿雁】您预约的门店活动明天上午十点开始，" + "请准时到场。" * 10,
        ),
        ("13812345671,13812345672,13812345673", "【鸿雁】您的验证码是 482913，5 分钟内有效。"),
    ):
        sent = console.post("/mt/", {**customer.auth(), "mobile": mobile, "content": text})
        assert sent.text.startswith("sms&stat=100"), sent.text
    admin = make_operator(console, "admin")
    operator_signs_in(
        page, console, admin.name, admin.password, f"/admin/messages?uid={customer.uid}"
    )

    def settled() -> bool:
        page.reload()
        return not page.locator("[data-state=sent], [data-state=queued]").count()

    until(settled, "every message final")
    assert page.locator("table[data-testid=messages] tbody tr").count() == 5
    assert page.locator("[data-state=failed]").count() == 1
    shoot(page, "admin-messages")

    with page.expect_navigation():
        page.locator("tr:has([data-state=failed]) [data-testid^=life-]").click()
    until(lambda: console.get("/st/", customer.auth()).text != "", "the reports fetched")
    wait_for_life(page, "fetched")
    assert page.locator("[data-kind=refunded]").count() == 1
    assert page.locator("[data-kind=receipt]").count() == 2
    assert "The carrier could not deliver it" in page.get_by_test_id("timeline").inner_text()
    shoot(page, "admin-message-life")
