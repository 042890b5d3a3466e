"""The issue's send flows in a real browser: three numbers with one invalid
and the cost; a 10,000-number .xlsx; a scheduled send cancelled, refunded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from tests.conftest import RunningServer
from tests.e2e.conftest import sign_in


def remain(console: RunningServer, customer: Any) -> int:
    return int(console.get("/mm/", customer.auth()).text.split("remain=")[1])


def test_send_to_three_numbers_with_one_invalid_and_see_the_cost(
    page: Any, console: RunningServer, shoot: Callable[[Any, str], None]
) -> None:
    customer = console.customer(balance=1000)
    sign_in(page, console, customer)
    page.click("[data-nav=send]")
    page.fill("textarea[name=numbers]", "13800138001\n13800138002\n1380013")
    page.fill(
        "textarea[name=content]", "【鸿雁】您的验证码是 482913，5 分钟内有效。" + "请勿泄露。" * 10
    )
    # The live count: 74 characters are two parts of 67; 3 numbers typed.
    assert page.text_content("[data-count-parts]") == "2"
    assert page.text_content("[data-count-numbers]") == "3"
    shoot(page, "send-form")
    page.click("[data-testid=preview]")
    assert page.text_content("[data-testid=valid]").strip() == "2"
    assert page.text_content("[data-testid=cost]").split()[0] == "4"
    assert "1380013" in page.text_content("[data-testid=invalid]")
    shoot(page, "send-preview")
    page.click("[data-testid=confirm]")
    assert page.text_content("[data-testid=accepted]").strip() == "2"
    assert page.text_content("[data-testid=refused]").strip() == "1"
    assert page.text_content("[data-testid=charged]").strip() == "4"
    shoot(page, "send-result")
    assert remain(console, customer) == 996


def test_upload_a_10000_number_xlsx_and_send(
    page: Any, console: RunningServer, tmp_path: Path
) -> None:
    customer = console.customer(balance=20_000)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "客户", "手机号码"])
    for i in range(10_000):
        sheet.append([i + 1, f"客户{i}", 13900000000 + i])
    path = tmp_path / "客户名单.xlsx"
    book.save(path)
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/send")
    page.set_input_files("input[name=file]", str(path))
    page.fill("textarea[name=content]", "【鸿雁】会员日全场八折")
    page.click("[data-testid=preview]")
    assert page.text_content("[data-testid=valid]").strip() == "10,000"
    assert page.text_content("[data-testid=cost]").split()[0] == "10,000"
    page.click("[data-testid=confirm]")
    assert page.text_content("[data-testid=accepted]").strip() == "10,000"
    assert remain(console, customer) == 10_000


def test_schedule_and_cancel_with_refund(
    page: Any, console: RunningServer, shoot: Callable[[Any, str], None]
) -> None:
    customer = console.customer(balance=500)
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/send")
    at = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)
    page.fill("textarea[name=numbers]", "13700137001,13700137002,13700137003")
    page.fill("textarea[name=content]", "【鸿雁】明天上午十点，您预约的门店活动开始。")
    page.fill("input[name=time]", at.strftime("%Y-%m-%dT%H:%M"))
    page.click("[data-testid=preview]")
    assert at.strftime("%Y-%m-%d %H:%M") in page.text_content("[data-testid=due]")
    page.click("[data-testid=confirm]")
    assert remain(console, customer) == 497
    page.click("[data-nav=scheduled]")
    row = page.locator("table[data-testid=scheduled] tbody tr")
    assert row.count() == 1
    shoot(page, "scheduled")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=cancel]")
    page.wait_for_selector("[data-testid=notice]")
    assert "3" in page.text_content("[data-testid=notice]")
    assert page.locator("[data-testid=empty]").count() == 1
    assert remain(console, customer) == 500
