"""Records, message details, replies and the CSV export, in a real browser."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from tests.conftest import Customer, RunningServer
from tests.e2e.conftest import sign_in
from tests.integration.test_console_records import browser, record_ids, send
from tests.waiting import until

TEXT = "【鸿雁科技】您的验证码是 846213，5 分钟内有效。"


def wait_for_reports(page: Any, console: RunningServer) -> None:
    """Reload the records until no message waits for its report (the simulator's
    receipts come within 50 ms; a loaded machine is slower)."""

    def arrived() -> bool:
        page.goto(f"{console.url}/console/records")
        return page.locator(".badge-wait").count() == 0

    until(arrived, "every report arrived in the records")


def test_sent_messages_show_in_records_and_their_reports_arrive(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    customer = console.customer(balance=500)
    # The simulator delivers, except numbers ending 0000 (UNDELIV) and 0002 (REJECTD).
    send(console, customer, "13900005555,13900000000,13900000002", TEXT)
    for i in range(12):
        send(
            console,
            customer,
            f"1380013{i + 10:04d}",
            f"【鸿雁商城】您的订单 2026113{i:02d} 已发货。",
        )
    sign_in(page, console, customer)
    page.get_by_role("link", name="发送记录").first.click()
    page.wait_for_url(re.compile(r".*/console/records$"))
    assert page.get_by_test_id("record").count() == 15
    wait_for_reports(page, console)
    statuses = page.locator("[data-testid=record] .badge").all_inner_texts()
    assert statuses.count("成功") == 13
    assert sorted(s for s in statuses if s != "成功") == ["失败 · REJECTD", "失败 · UNDELIV"]
    shoot(page, "records")
    page.select_option("select[name=status]", "failed")  # submits the filter at once
    page.wait_for_url(re.compile(r".*status=failed.*"))
    assert page.get_by_test_id("record").count() == 2
    page.locator("[data-testid=record]", has_text="13900000000").get_by_test_id(
        "record-link"
    ).click()
    page.wait_for_url(re.compile(r".*/console/records/\d+$"))
    assert page.get_by_test_id("mobile").inner_text() == "13900000000"
    assert "UNDELIV" in page.get_by_test_id("status").inner_text()
    assert page.get_by_test_id("text").inner_text() == TEXT
    assert page.locator("[data-testid=parts] tbody tr").count() == 1
    assert "等待通过 /st/ 获取" in page.get_by_test_id("report-delivery").inner_text()
    shoot(page, "message")


def test_export_records_and_open_the_csv(page: Any, console: RunningServer) -> None:
    customer = console.customer(balance=100)
    send(console, customer, "13900015555,13900010001", TEXT)
    sign_in(page, console, customer)
    wait_for_reports(page, console)
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    saved: Path = Path(download.value.path())
    assert re.fullmatch(r"records-\d{8}-\d{4}\.csv", download.value.suggested_filename)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert rows[0][:6] == ["提交时间", "手机号码", "短信内容", "计费条数", "结果", "状态"]
    by_number = {row[1]: row for row in rows[1:]}
    assert by_number["13900015555"][2] == TEXT
    assert by_number["13900015555"][4:6] == ["成功", "100"]
    assert by_number["13900010001"][4:6] == ["失败", "EXPIRED"]


def test_one_tenant_cannot_reach_anothers_records_messages_or_replies(
    page: Any, console: RunningServer
) -> None:
    owner, intruder = console.customer(balance=10), console.customer(balance=10)
    send(console, owner, "13900027777", "只给本账户看的短信")
    console.operate(lambda op: op.inject_reply("13900027777", "只给本账户看的回复", uid=owner.uid))
    with browser(console, owner) as client:
        (message_id,) = record_ids(client.get("/console/records").text)
        found = re.search(
            r"records\?batch=(\d+)", client.get(f"/console/records/{message_id}").text
        )
    assert found is not None
    sign_in(page, console, intruder)
    answer = page.goto(f"{console.url}/console/records/{message_id}")
    assert answer.status == 404 and "本账户下没有这条短信" in page.content()
    for query in (f"batch={found.group(1)}", f"before={message_id + 1}", "number=13900027777"):
        page.goto(f"{console.url}/console/records?{query}")
        assert page.get_by_test_id("no-records").is_visible()
        assert "只给本账户看的短信" not in page.content()
    page.goto(f"{console.url}/console/replies?number=13900027777")
    assert page.get_by_test_id("no-replies").is_visible()


def test_the_replies_inbox_searches(page: Any, console: RunningServer, shoot: Any) -> None:
    customer: Customer = console.customer(balance=10)
    for mobile, text in (
        ("13912345678", "好的，明天上午十点到店"),
        ("13887654321", "TD"),
        ("13700001111", "请问优惠活动截止到哪天？"),
        ("13912345678", "收到，谢谢"),
    ):
        console.operate(lambda op, m=mobile, t=text: op.inject_reply(m, t, uid=customer.uid))
    console.get("/rx/", customer.auth())  # the first four are fetched by /rx/
    console.operate(lambda op: op.inject_reply("13600002222", "已付款", uid=customer.uid))
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/replies")
    assert page.get_by_test_id("reply").count() == 5
    handed = page.get_by_test_id("handed").all_inner_texts()
    assert handed.count("已通过 /rx/ 获取") == 4 and handed[0] == "尚未获取"
    shoot(page, "replies")
    page.fill("input[name=q]", "谢谢")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r".*q=.*"))
    assert page.get_by_test_id("reply").all_inner_texts()[0].count("收到，谢谢") == 1
    assert page.get_by_test_id("reply").count() == 1
