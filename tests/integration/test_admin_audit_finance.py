"""The audit log and finance pages over HTTP: the log's filters, paging and the
before -> after of each changed field; the finance report, its CSV export (and
the export's own audit entry), who may export, and the ledger check shown on
request, ok or naming the account that differs."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from hongyan.admin.pages import audit as audit_page
from hongyan.admin.pages import finance as finance_page
from hongyan.store.schema import accounts
from tests.conftest import Customer, RunningServer
from tests.integration.admin_client import AdminClient, admin_client, audit_since, last_audit_id

SUCCESS_PREFIX = b"sms&stat=100"


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Iterator[AdminClient]:
    with admin_client(server, "admin") as client:
        yield client


@pytest.fixture(scope="module")
def busy(server: RunningServer, admin: AdminClient) -> Customer:
    """An account with a history: created, topped up, deducted, frozen and
    unfrozen in the console, and one message sent (charged)."""
    customer = server.customer(balance=1000)
    uid = customer.uid
    sent = server.post("/mt/", {**customer.auth(), "mobile": "13900001111", "content": "hi"})
    assert sent.content.startswith(SUCCESS_PREFIX), sent.content
    server.operate(lambda op: op.topup(uid, 250, "paid invoice 17"))
    server.operate(lambda op: op.deduct(uid, 30, "goodwill reversed"))
    server.operate(lambda op: op.set_frozen(uid, True))
    server.operate(lambda op: op.set_frozen(uid, False))
    return customer


def cells(html: str, testid: str) -> str:
    """The text of the element marked `testid`, tags dropped, spaces squeezed."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


def local_day(server: RunningServer, at_ms: int) -> str:
    zone = ZoneInfo(server.settings.timezone)
    return datetime.fromtimestamp(at_ms / 1000, zone).date().isoformat()


# -- the audit log ---------------------------------------------------------------------------


def test_the_audit_log_shows_each_changed_field_before_and_after(
    admin: AdminClient, busy: Customer
) -> None:
    page = admin.get("/admin/audit", params={"target": f"account:{busy.uid}"})
    assert page.status_code == 200
    html = page.text
    # Newest first: unfreeze, freeze, deduct, top-up, limits, create.
    order = [m.group(1) for m in re.finditer(r'class="audit-action">([^<]+)<', html)]
    assert order == [
        "account.unfreeze",
        "account.freeze",
        "account.deduct",
        "account.topup",
        "account.limits",
        "account.create",
    ]
    # The top-up: the balance struck and replaced, the amount new (it was not before).
    topup = html.split('class="audit-action">account.topup<')[1].split("</tr>")[0]
    assert '<span class="change-field">balance</span>' in topup
    assert re.search(r'<del class="change-old">\d+</del>\s*<span class="change-arrow"', topup)
    assert '<ins class="change-new">250</ins>' in topup  # the amount
    assert "paid invoice 17" in topup
    freeze = html.split('class="audit-action">account.freeze<')[1].split("</tr>")[0]
    assert '<del class="change-old">false</del>' in freeze
    assert '<ins class="change-new">true</ins>' in freeze
    # The target links to the account's page; the actor filters the log by itself.
    assert f'href="/admin/accounts/{busy.uid}">account:{busy.uid}</a>' in html
    by_actor = re.search(r'<a class="strong" href="/admin/audit\?actor=([^&"]+)&amp;target=', html)
    assert by_actor, "the actor's name filters the log by it, the target kept"
    assert re.search(r'class="badge badge-neutral">cli<', html)


def test_the_audit_log_filters_by_actor_action_and_time(
    server: RunningServer, admin: AdminClient, busy: Customer
) -> None:
    target = f"account:{busy.uid}"
    money = admin.get("/admin/audit", params={"target": target, "action": "account.topup"})
    assert re.findall(r'class="audit-action">([^<]+)<', money.text) == ["account.topup"]
    nobody = admin.get("/admin/audit", params={"target": target, "actor": "nobody-at-all"})
    assert "No entries match these filters." in nobody.text
    # Their day (the platform's zone) holds them; a month long past none.
    day = local_day(server, max(e.at for e in audit_since(server, 0) if e.target == target))
    dated = admin.get("/admin/audit", params={"target": target, "from": day, "to": day})
    assert len(re.findall(r'class="audit-action">', dated.text)) == 6
    past = admin.get(
        "/admin/audit", params={"target": target, "from": "2001-01-01", "to": "2001-01-31"}
    )
    assert "No entries match these filters." in past.text
    wrong = admin.get("/admin/audit", params={"from": "2026-02-30"})
    assert wrong.status_code == 400 and 'data-testid="audit-error"' in wrong.text


def test_the_audit_log_pages_back_by_id(
    admin: AdminClient, busy: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 2)
    target = f"account:{busy.uid}"
    seen: list[str] = []
    path, params = "/admin/audit", {"target": target}  # the links carry the rest
    for _ in range(3):
        html = admin.get(path, params=params).text
        seen += re.findall(r'class="audit-action">([^<]+)<', html)
        older = re.search(r'href="([^"]+)" data-testid="older"', html)
        if older is None:
            break
        path, params = older.group(1).replace("&amp;", "&"), None
    assert seen == [
        "account.unfreeze",
        "account.freeze",
        "account.deduct",
        "account.topup",
        "account.limits",
        "account.create",
    ]
    assert older is None  # the third page is the last
    assert "Newest" in html


def test_every_role_reads_the_audit_log(server: RunningServer, busy: Customer) -> None:
    for role in ("support", "finance"):
        with admin_client(server, role) as client:
            page = client.get("/admin/audit", params={"target": f"account:{busy.uid}"})
            assert page.status_code == 200 and "account.topup" in page.text


# -- finance --------------------------------------------------------------------------------


def test_the_finance_report_shows_the_accounts_parts_and_a_totals_row(
    admin: AdminClient, busy: Customer
) -> None:
    page = admin.get("/admin/finance", params={"uid": busy.uid})
    assert page.status_code == 200
    row = cells(page.text, "finance")
    # charged 1, refunded 0, net 1, topped up 250 (and the opening 1,000), deducted 30
    assert busy.uid in row
    total = cells(page.text, "finance-total")
    assert total.startswith("Total 1 account")
    numbers = total.split()[-5:]
    assert numbers[0] == "1" and numbers[1] == "0" and numbers[2] == "1"
    assert numbers[4] == "30"
    assert numbers[3] in ("250", "1,250")
    assert 'data-testid="export-csv"' in page.text
    by_month = admin.get("/admin/finance", params={"uid": busy.uid, "by": "month"})
    assert re.search(r"<td class=\"nowrap\">\d{4}-\d{2}</td>", by_month.text)
    unknown = admin.get("/admin/finance", params={"uid": "no-such-account"})
    assert unknown.status_code == 404 and 'data-testid="finance-error"' in unknown.text
    both = admin.get("/admin/finance", params={"month": "2026-01", "from": "2026-01-02"})
    assert both.status_code == 400 and "not both" in both.text


def test_the_finance_report_pages_on(
    server: RunningServer, admin: AdminClient, busy: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = server.customer(balance=0).uid
    server.operate(lambda op: op.topup(other, 5, "trial"))
    monkeypatch.setattr(finance_page, "PAGE_SIZE", 1)
    first = admin.get("/admin/finance")
    following = re.search(r'href="([^"]+)" data-testid="next"', first.text)
    assert following, "more than one account has parts today, so a second page"
    second = admin.get(following.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    rows = [re.findall(r"<tbody>(.*?)</tbody>", p.text, re.S)[0] for p in (first, second)]
    assert rows[0] != rows[1]
    # The totals are the period's, on every page.
    assert cells(first.text, "finance-total") == cells(second.text, "finance-total")
    assert "First page" in second.text


def test_finance_exports_csv_and_the_export_is_audited(
    server: RunningServer, busy: Customer
) -> None:
    with admin_client(server, "finance") as finance:
        before = last_audit_id(server)
        # The export writes an audit entry: a GET does not export (405), a POST
        # without the session's CSRF token is refused; the page's form has both.
        assert finance.get("/admin/finance.csv", params={"uid": busy.uid}).status_code == 405
        no_token = finance.http.post("/admin/finance.csv", data={"uid": busy.uid})
        assert no_token.status_code == 403
        assert audit_since(server, before) == []
        page = finance.get("/admin/finance", params={"uid": busy.uid, "by": "month"})
        form = re.search(
            r'<form method="post" action="/admin/finance.csv".*?</form>', page.text, re.S
        )
        assert form and 'name="csrf"' in form.group(0)
        assert f'name="uid" value="{busy.uid}"' in form.group(0)
        assert 'name="by" value="month"' in form.group(0)
        answer = finance.post("/admin/finance.csv", {"uid": busy.uid, "by": "month"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
        lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert lines[0] == [
            "period",
            "account",
            "charged",
            "refunded",
            "net charged",
            "topped up",
            "deducted",
        ]
        assert lines[1][1] == busy.uid and lines[1][2] == "1" and lines[1][6] == "30"
        assert lines[-1][0] == "total"
        written = audit_since(server, before)
        assert [(e.action, e.target, e.actor, e.via) for e in written] == [
            ("finance.export", f"account:{busy.uid}", finance.name, "console")
        ]
        assert "by month" in written[0].note


def test_support_reads_finance_but_may_not_export(server: RunningServer, busy: Customer) -> None:
    with admin_client(server, "support") as support:
        page = support.get("/admin/finance", params={"uid": busy.uid})
        assert page.status_code == 200 and 'data-testid="export-csv"' not in page.text
        before = last_audit_id(server)
        refused = support.post("/admin/finance.csv", {"uid": busy.uid})
        assert refused.status_code == 403 and 'data-testid="forbidden"' in refused.text
        assert audit_since(server, before) == []


def test_the_ledger_check_runs_on_request_and_names_a_differing_account(
    server: RunningServer, admin: AdminClient, busy: Customer
) -> None:
    page = admin.get("/admin/finance")
    assert 'data-testid="ledger-result"' not in page.text  # not on every load
    ok = admin.get("/admin/finance/check")
    assert ok.status_code == 200
    assert cells(ok.text, "ledger-result").startswith("ok The ledger sums to every balance")

    async def nudge(by: int) -> None:
        async with server.platform.db.transaction() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.uid == busy.uid)
                .values(balance=accounts.c.balance + by)
            )

    server.on_server(nudge(+7))
    try:
        differs = admin.get("/admin/finance/check", params={"uid": busy.uid})
        result = cells(differs.text, "ledger-result")
        assert result.startswith("differs") and busy.uid in result
        problems = cells(differs.text, "ledger-problems")
        assert busy.uid in problems and "sum to a different amount" in problems
    finally:
        server.on_server(nudge(-7))
    assert "ok" in cells(admin.get("/admin/finance/check").text, "ledger-result")


def test_the_operator_switches_the_console_to_chinese(server: RunningServer) -> None:
    with admin_client(server, "support") as client:
        english = client.get("/admin/finance")
        assert '<html lang="en">' in english.text and "Ledger check" in english.text
        switched = client.get("/admin/language/zh", params={"back": "/admin/audit?actor=x"})
        assert (
            switched.status_code == 303 and switched.headers["location"] == "/admin/audit?actor=x"
        )
        assert "hy_admin_lang=zh" in switched.headers["set-cookie"]
        assert "Path=/admin" in switched.headers["set-cookie"]
        finance = client.get("/admin/finance")
        assert '<html lang="zh-CN">' in finance.text
        assert "账本核对" in finance.text and "财务" in finance.text  # the page and the layout
        audit = client.get("/admin/audit", params={"actor": "nobody-at-all"})
        assert "没有符合条件的记录。" in audit.text
        # Elsewhere it goes home, never to another site.
        away = client.get("/admin/language/en", params={"back": "https://example.com/"})
        assert away.headers["location"] == "/admin/"
        assert "Ledger check" in client.get("/admin/finance").text
