"""The overview and the ledger pages over HTTP: what they say after real
sends, deliveries, failures and top-ups, and that each account sees only
its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.waiting import until


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = live_server(tmp_path_factory)
    yield server
    server.stop()


@contextmanager
def console_client(
    server: RunningServer, customer: Customer, language: str = "zh"
) -> Iterator[httpx.Client]:
    """A client signed in through the form, as a browser would be."""
    with httpx.Client(base_url=server.url, cookies={"hy_lang": language}) as client:
        client.get("/console/sign-in")
        pre = client.cookies["hy_pre"]
        answer = client.post(
            "/console/sign-in",
            data={"uid": customer.uid, "password": customer.password, "csrf": pre},
        )
        assert answer.status_code == 303, answer.text
        yield client


def send(server: RunningServer, customer: Customer, mobile: str, content: str) -> str:
    answer = server.get("/mt/", {**customer.auth(), "mobile": mobile, "content": content})
    assert "stat=100" in answer.text, answer.text
    return answer.text


def test_the_overview_counts_sends_reports_and_explains_failures(live: RunningServer) -> None:
    customer = live.customer(balance=100)
    stranger = live.customer(balance=7)
    # 80 characters: 2 parts each. One delivered, one UNDELIV (the simulator's
    # test number ends 0000), one invalid number (112, not charged).
    send(live, customer, "13812345678,13812340000,12345", "x" * 80)
    with console_client(live, customer) as client:
        until(lambda: "UNDELIV" in client.get("/console/").text, "the UNDELIV report")
        until(
            lambda: 'data-testid="delivery-rate">33.3%' in client.get("/console/").text,
            "the delivered report",
        )
        html = client.get("/console/").text
        assert re.search(r'data-testid="balance">96 <small>条', html)
        assert re.search(r'data-testid="parts-today">4 <small>条', html)
        assert re.search(r'data-testid="parts-month">4 <small>条', html)
        assert "已回执 3 条，成功 1 条" in html
        assert "通常是号码停机、欠费、销号或空号" in html  # UNDELIV, in Chinese
        assert "号码格式无效" in html  # 112
        assert html.count("<svg") == 2 and 'data-series="failed"' in html
        assert "nonce" not in html and "<script>" not in html and "style=" not in html

        week = client.get("/console/", params={"range": "7d"}).text
        assert 'class="active" data-range="7d"' in week
        sent_dots = re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="[\d.]+" fill="#1d4ed8">', week)
        assert len(sent_dots) == 14  # 7 days, wide and narrow
        odd = client.get("/console/", params={"range": "1y"}).text
        assert 'class="active" data-range="24h"' in odd

    with console_client(live, customer, "en") as client:
        html = client.get("/console/").text
        assert "usually the number is suspended" in html and "Delivery rate" in html

    with console_client(live, stranger) as client:
        html = client.get("/console/").text
        assert re.search(r'data-testid="balance">7 <small>', html)
        assert re.search(r'data-testid="parts-today">0 <small>', html)
        assert "UNDELIV" not in html and "近 30 天没有失败的短信" in html


def test_the_ledger_lists_top_ups_charges_by_day_and_pages_by_key(live: RunningServer) -> None:
    customer = live.customer(balance=10)
    stranger = live.customer(balance=10)
    send(live, customer, "13812345678", "hello")
    send(live, customer, "13812345679,13812345670", "hello")
    for n in range(55):
        live.operate(lambda op, n=n: op.topup(customer.uid, 1, f"top-up note {n}"))
    with console_client(live, customer) as client:
        first = client.get("/console/ledger").text
        rows = re.findall(r'<tr data-kind="(\w+)">', first)
        assert rows == ["topup"] * 50
        assert re.search(r"top-up note 5\s*<", first) and not re.search(r"note 4\s*<", first)
        older = re.search(r'href="(/console/ledger\?[^"]+before=\d+)"', first)
        assert older is not None
        second = client.get(older.group(1).replace("&amp;", "&")).text
        rows = re.findall(r'<tr data-kind="(\w+)">', second)
        # Five top-ups, the day's two sends as one row, the opening balance.
        assert rows == ["topup"] * 5 + ["charge", "topup"], rows
        assert re.search(r"top-up note 4\s*<", second) and not re.search(r"note 5\s*<", second)
        assert "当日共 2 次发送" in second
        assert 'data-testid="older"' not in second
        # Totals of the period: 65 in, 3 charged by 2 sends; balance after each row.
        assert re.search(r'data-testid="total-topup">\+65 ', first)
        assert re.search(r'data-testid="total-charge">-3 ', first)
        assert "共 2 次发送" in first
        charge_row = second.split('<tr data-kind="charge">')[1].split("</tr>")[0]
        assert re.findall(r'<td class="num[^"]*">([^<]+)</td>', charge_row) == ["-3", "7"]

        refused = client.get("/console/ledger", params={"from": "2026-13-01"}).text
        assert "日期格式为 YYYY-MM-DD" in refused and 'data-kind="topup"' in refused
        empty = client.get("/console/ledger", params={"from": "2020-01-01", "to": "2020-01-31"})
        assert "该时段内余额没有变动" in empty.text

    with console_client(live, stranger) as client:
        html = client.get("/console/ledger").text
        assert "top-up note" not in html and re.findall(r'<tr data-kind="(\w+)">', html) == [
            "topup"
        ]
        # Another account's cursor shows nothing of that account either.
        assert "top-up note" not in client.get("/console/ledger?before=999999999").text
