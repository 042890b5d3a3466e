"""The accounts pages in a real browser: the list, a new account, a top-up on
the account's page, and the customer's console opened read-only; a
screenshot of each at 1280 px (and a phone's width)."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from hongyan.core.account_list import account_list
from hongyan.store.engine import now_ms
from tests.conftest import Customer, RunningServer
from tests.e2e.test_admin_console import operator_sign_in
from tests.integration.admin_client import make_operator
from tests.waiting import until


def send(server: RunningServer, customer: Customer, mobiles: str) -> None:
    sent = server.post("/mt/", {**customer.auth(), "mobile": mobiles, "content": "验证码 1234"})
    assert sent.content.startswith(b"sms&stat=100"), sent.content


def ended(server: RunningServer, uid: str) -> bool:
    """Whether the account's messages have their receipts (the simulator's, within 50 ms)."""
    zone = ZoneInfo(server.settings.timezone)
    found = server.on_server(account_list(server.platform.db, zone, now_ms(), q=uid))
    return bool(found.rows) and found.rows[0].ended >= found.rows[0].sent_today > 0


def test_an_operator_creates_tops_up_and_views_an_account(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    admin = make_operator(console, "admin")
    shops = [
        console.customer(uid=f"shop{n}-{admin.name}", balance=balance)
        for n, balance in enumerate((12_500, 80, 3_000_000))
    ]
    send(console, shops[0], "13900000001,13900000002,13900000003")
    until(lambda: ended(console, shops[0].uid), "the receipts of shop0's messages")
    operator_sign_in(page, console, admin.name, admin.password)

    page.goto(f"{console.url}/admin/accounts?sort=balance&dir=desc")
    rows = page.locator("[data-testid=accounts] tbody tr")
    assert rows.count() >= 3
    assert page.locator("[data-testid=accounts] tbody tr").first.get_attribute("data-uid")
    shoot(page, "admin-accounts")

    page.get_by_test_id("new-account").click()
    page.wait_for_url(re.compile(r".*/admin/accounts/new$"))
    uid = f"acme-{admin.name}"
    page.fill("input[name=uid]", uid)
    page.fill("input[name=password]", "acme-password-1")
    page.fill("input[name=balance]", "500")
    shoot(page, "admin-account-new")
    page.click("[data-testid=create-account] button[type=submit]")
    page.wait_for_url(re.compile(rf".*/admin/accounts/{uid}$"))
    assert page.get_by_test_id("balance").inner_text() == "500"

    page.fill("form[action$='/topup'] input[name=amount]", "1500")
    page.fill("form[action$='/topup'] input[name=note]", "paid invoice 42")
    page.click("form[action$='/topup'] button[type=submit]")
    page.wait_for_selector("[data-testid=flash]")
    assert page.get_by_test_id("balance").inner_text() == "2,000"
    assert "paid invoice 42" in page.get_by_test_id("ledger").inner_text()
    assert "account.topup" in page.get_by_test_id("account-audit").inner_text()
    send(console, Customer(uid, "acme-password-1"), "13900000004,13900000005")
    page.reload()
    assert page.get_by_test_id("balance").inner_text() == "1,998"
    shoot(page, "admin-account")

    # The same page in Chinese, by the sidebar's language switch, with a push URL
    # (a public literal address: shown, not called) so the test push shows too.
    console.operate(lambda op: op.set_push(uid, reports="http://93.184.216.34/reports"))
    page.locator("[data-testid=language-switch] a[lang=zh]").click()
    page.wait_for_selector("html[lang=zh-CN]")
    assert page.url.endswith(f"/admin/accounts/{uid}")
    assert "余额" in page.get_by_test_id("money").inner_text()
    assert page.get_by_test_id("test-push-report").inner_text() == "测试推送状态报告"
    shoot(page, "admin-account-zh")
    page.locator("[data-testid=language-switch] a[lang=en]").click()
    page.wait_for_selector("html[lang=en]")

    page.get_by_test_id("view-as").click()
    page.wait_for_url(re.compile(r".*/console/$"))
    banner = page.get_by_test_id("viewer-banner").inner_text()
    assert admin.name in banner
    assert page.get_by_test_id("sign-out").count() == 0
    shoot(page, "admin-view-as")
