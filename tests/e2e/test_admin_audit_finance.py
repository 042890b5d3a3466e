"""The audit log and finance pages in a real browser: an account's actions with
their before -> after, the finance report with its totals, the ledger check on
request and the CSV download; a screenshot of each page at 1280 px."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningServer
from tests.e2e.test_admin_console import operator_sign_in
from tests.integration.admin_client import make_operator


def test_an_operator_reads_the_audit_log_and_the_finance_report(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    finance = make_operator(console, "finance")
    customers = [console.customer(balance=1000) for _ in range(2)]
    uids = [c.uid for c in customers]
    for number, (customer, amount) in enumerate(zip(customers, (5000, 12000), strict=True)):
        uid = customer.uid
        console.operate(lambda op, uid=uid, amount=amount: op.topup(uid, amount, "invoice paid"))
        form = {**customer.auth(), "mobile": f"1390000{number:04d}", "content": "hello " * 30}
        assert console.post("/mt/", form).content.startswith(b"sms&stat=100")
    console.operate(lambda op: op.deduct(uids[0], 120, "duplicate top-up reversed"))
    console.operate(lambda op: op.set_frozen(uids[1], True))
    operator_sign_in(page, console, finance.name, finance.password)

    page.goto(f"{console.url}/admin/audit")
    log = page.get_by_test_id("audit")
    assert log.locator("del.change-old").first.is_visible()
    assert "account.freeze" in log.inner_text()
    shoot(page, "admin-audit")

    page.goto(f"{console.url}/admin/finance")
    page.get_by_test_id("run-check").click()
    page.wait_for_selector("[data-testid=ledger-result]")
    assert page.get_by_test_id("ledger-result").locator(".badge-ok").count() == 1
    assert uids[1] in page.get_by_test_id("finance").inner_text()
    shoot(page, "admin-finance")

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename.startswith("finance-")

    # In Chinese, by the sidebar's switch: back on the same page.
    page.get_by_test_id("language-switch").locator("a[lang=zh]").click()
    page.wait_for_selector("html[lang=zh-CN]")
    assert page.url.endswith("/admin/finance/check")
    shoot(page, "admin-finance-zh")
