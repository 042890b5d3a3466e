"""The console's records, message details, replies and exports over real HTTP
(httpx against a delivering platform): filters, CSV as Excel reads it, and
no account reaching another's data by an id in a URL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import Customer, RunningServer
from tests.waiting import until


@contextmanager
def browser(server: RunningServer, customer: Customer) -> Iterator[httpx.Client]:
    """A signed-in console client, as a browser signs in: the form's token is its cookie."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.get("/console/sign-in")
        answer = client.post(
            "/console/sign-in",
            data={
                "uid": customer.uid,
                "password": customer.password,
                "csrf": client.cookies["hy_pre"],
            },
        )
        assert answer.status_code == 303
        yield client


def send(server: RunningServer, customer: Customer, numbers: str, text: str) -> None:
    answer = server.post("/mt/", {**customer.auth(), "mobile": numbers, "content": text})
    assert "stat=100" in answer.text, answer.text


def record_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="record" data-id="(\d+)"', page)]


def final(server: RunningServer, customer: Customer, count: int) -> None:
    """Wait until `count` of the customer's messages have their final status."""

    def done() -> bool:
        with browser(server, customer) as client:
            page = client.get("/console/records", params={"status": "waiting"}).text
        return len(record_ids(page)) == 0

    until(done, f"{count} messages final")


def test_records_filter_by_status_number_and_batch(live: RunningServer) -> None:
    customer = live.customer(balance=100)
    # The simulator fails numbers ending 0000 (UNDELIV) and 0001 (EXPIRED).
    send(live, customer, "13900000000,13900000001,13900005555", "验证码 1234")
    send(live, customer, "13900006666", "第二条")
    final(live, customer, 4)
    with browser(live, customer) as client:
        everything = client.get("/console/records").text
        assert len(record_ids(everything)) == 4 and "验证码 1234" in everything
        failed = client.get("/console/records", params={"status": "failed"}).text
        assert len(record_ids(failed)) == 2 and "UNDELIV" in failed and "EXPIRED" in failed
        expired = client.get("/console/records", params={"status": "EXPIRED"}).text
        assert len(record_ids(expired)) == 1
        delivered = client.get("/console/records", params={"status": "delivered"}).text
        assert len(record_ids(delivered)) == 2
        one = client.get("/console/records", params={"number": "+8613900006666"}).text
        assert len(record_ids(one)) == 1 and "第二条" in one
        batch = re.search(
            r"records\?batch=(\d+)",
            client.get(f"/console/records/{record_ids(everything)[-1]}").text,
        )
        assert batch is not None
        in_batch = client.get("/console/records", params={"batch": batch.group(1)}).text
        assert len(record_ids(in_batch)) == 3 and "第二条" not in in_batch
        refused = client.get("/console/records", params={"from": "yesterday"})
        assert refused.status_code == 400 and "YYYY-MM-DD" in refused.text


def test_message_details_show_parts_and_the_report(live: RunningServer) -> None:
    customer = live.customer(balance=100)
    send(live, customer, "13900010000", "好" * 71)  # two parts, failed by the simulator
    final(live, customer, 1)
    with browser(live, customer) as client:
        (message_id,) = record_ids(client.get("/console/records").text)
        detail = client.get(f"/console/records/{message_id}")
    assert detail.status_code == 200
    page = detail.text
    assert "UNDELIV" in page and "13900010000" in page
    assert page.count('<td class="num">') == 2  # each part's row
    assert "等待通过 /st/ 获取" in page  # its report waits for /st/
    live.get("/st/", customer.auth())
    with browser(live, customer) as client:
        assert "通过 /st/ 获取" in client.get(f"/console/records/{message_id}").text


def test_another_accounts_message_reply_and_batch_are_out_of_reach(live: RunningServer) -> None:
    owner, intruder = live.customer(balance=10), live.customer(balance=10)
    send(live, owner, "13900020002", "机密内容")
    live.operate(lambda op: op.inject_reply("13900020002", "机密回复", uid=owner.uid))
    with browser(live, owner) as client:
        (message_id,) = record_ids(client.get("/console/records").text)
        batch = re.search(
            r"records\?batch=(\d+)", client.get(f"/console/records/{message_id}").text
        )
        assert batch is not None
    with browser(live, intruder) as client:
        assert client.get(f"/console/records/{message_id}").status_code == 404
        for params in (
            {"batch": batch.group(1)},
            {"before": str(message_id + 1)},
            {"after": str(message_id - 1)},
            {"number": "13900020002"},
        ):
            page = client.get("/console/records", params=params).text
            assert "机密内容" not in page and record_ids(page) == []
            exported = client.get("/console/records.csv", params=params).content
            assert "机密内容".encode() not in exported
        assert "机密回复" not in client.get("/console/replies").text
        assert "机密回复".encode() not in client.get("/console/replies.csv").content


def test_the_records_export_is_csv_excel_reads(live: RunningServer) -> None:
    customer = live.customer(balance=100)
    send(live, customer, "13900030000,13900035555", '您好，"鸿雁"提醒：=1+1 不是公式')
    final(live, customer, 2)
    with browser(live, customer) as client:
        answer = client.get("/console/records.csv")
        failed_only = client.get("/console/records.csv", params={"status": "failed"})
    assert answer.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="records-\d{8}-\d{4}\.csv"', answer.headers["content-disposition"]
    )
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["提交时间", "手机号码", "短信内容"]
    body = {r[1]: r for r in rows[1:]}
    assert set(body) == {"13900030000", "13900035555"}
    assert body["13900030000"][2] == '您好，"鸿雁"提醒：=1+1 不是公式'
    assert body["13900030000"][4:6] == ["失败", "UNDELIV"]
    assert body["13900035555"][4:6] == ["成功", "100"]
    failed = list(csv.reader(io.StringIO(failed_only.content.decode("utf-8-sig"))))
    assert [r[1] for r in failed[1:]] == ["13900030000"]


def test_replies_inbox_search_and_export(live: RunningServer) -> None:
    customer = live.customer(balance=10)
    for mobile, text in (("13900040001", "好的，收到"), ("13900040002", '=HYPERLINK("x") TD')):
        live.operate(lambda op, m=mobile, t=text: op.inject_reply(m, t, uid=customer.uid))
    with browser(live, customer) as client:
        inbox = client.get("/console/replies").text
        assert "好的，收到" in inbox and "尚未获取" in inbox
        found = client.get("/console/replies", params={"q": "td"}).text
        assert "HYPERLINK" in found and "好的，收到" not in found
        by_number = client.get("/console/replies", params={"number": "13900040001"}).text
        assert "好的，收到" in by_number and "HYPERLINK" not in by_number
        live.get("/rx/", customer.auth())
        assert "已通过 /rx/ 获取" in client.get("/console/replies").text
        exported = client.get("/console/replies.csv").content
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    texts = {r[1]: r[2] for r in rows[1:]}
    # A formula a stranger texted stays text in a spreadsheet.
    assert texts == {"13900040001": "好的，收到", "13900040002": '\'=HYPERLINK("x") TD'}
