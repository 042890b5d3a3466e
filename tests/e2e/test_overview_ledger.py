"""The overview and the ledger in a browser: figures after real sends and
reports, the chart's ranges, and the ledger after a top-up and a send."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import RunningServer
from tests.e2e.conftest import sign_in
from tests.waiting import until


def test_the_overview_shows_sends_reports_and_the_chart_ranges(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    customer = console.customer(balance=500)
    # The simulator: ...0000 fails UNDELIV, ...0001 EXPIRED, others are delivered.
    numbers = "13812345678,13812345679,13812345677,13812340000,13812340001,1234"
    for content in ("您的验证码是 428193，5 分钟内有效。", "x" * 100):
        answer = console.get("/mt/", {**customer.auth(), "mobile": numbers, "content": content})
        assert "stat=100" in answer.text, answer.text
    sign_in(page, console, customer)

    def reported() -> bool:
        page.goto(f"{console.url}/console/")
        return page.get_by_test_id("delivery-rate").inner_text() == "50.0%"

    until(reported, "the ten reports on the overview")
    assert page.get_by_test_id("balance").inner_text().startswith("485")  # 5×1 + 5×2 parts
    assert page.get_by_test_id("parts-today").inner_text().startswith("15")
    failures = page.get_by_test_id("failures")
    assert "UNDELIV" in failures.inner_text() and "在有效期内未能送达" in failures.inner_text()
    assert page.locator(".chart-wide polyline[data-series=sent]").count() == 1
    shoot(page, "overview")

    for chosen in ("7d", "30d", "24h"):
        page.click(f"[data-range='{chosen}']")
        page.wait_for_url(re.compile(rf".*/console/\?range={chosen}$"))
        assert page.locator(f"[data-range='{chosen}']").get_attribute("class") == "active"
    assert page.locator(".chart-wide text").filter(has_text=re.compile(r"^\d\d:00$")).count() > 6


def test_the_ledger_shows_a_top_up_and_the_days_charges(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    customer = console.customer(balance=100)
    console.operate(lambda op: op.topup(customer.uid, 500, "对公转账 2026-11 第 3 笔"))
    for mobile in ("13812345678", "13812345678,13812345679,13812345670"):
        answer = console.get("/mt/", {**customer.auth(), "mobile": mobile, "content": "您好"})
        assert "stat=100" in answer.text, answer.text
    sign_in(page, console, customer)
    page.click("[data-nav=ledger]")
    page.wait_for_url(re.compile(r".*/console/ledger$"))
    rows = page.locator("table.ledger tbody tr")
    assert rows.count() == 3
    assert "当日共 2 次发送" in rows.nth(0).inner_text()
    assert rows.nth(0).locator("td.num").all_inner_texts() == ["-4", "596"]
    assert "对公转账" in rows.nth(1).inner_text()
    assert rows.nth(1).locator("td.num").all_inner_texts() == ["+500", "600"]
    assert page.get_by_test_id("total-topup").inner_text().startswith("+600")
    shoot(page, "ledger")
