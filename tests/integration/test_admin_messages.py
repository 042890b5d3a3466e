"""The operator console's messages over HTTP: the search across accounts by each
filter with keyset pages, and a message's whole life (delivered and fetched,
failed and refunded, refused at acceptance), on a delivering platform. Reading
is every role's; nothing here changes anything, so no audit entry is written."""

from __future__ import annotations

import html
import re

import httpx

from tests.conftest import Customer, RunningServer
from tests.integration.admin_client import AdminClient, admin_client, audit_since, last_audit_id
from tests.integration.console_client import ConsoleClient
from tests.waiting import until

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")
LIFE_LINK = re.compile(r'data-testid="life-(\d+)"')


def send(server: RunningServer, c: Customer, mobile: str, content: str) -> None:
    sent = server.post("/mt/", {**c.auth(), "mobile": mobile, "content": content})
    assert sent.content == SUCCESS, sent.content


def listed(client: AdminClient, **query: str) -> list[int]:
    """The message ids a search page lists, top to bottom."""
    page = client.get("/admin/messages", params=query)
    assert page.status_code == 200, page.text[:2000]
    return [int(i) for i in LIFE_LINK.findall(page.text)]


def settled(client: AdminClient, uid: str) -> None:
    """Every message of `uid` final (the simulator answers within 50 ms)."""
    until(lambda: listed(client, uid=uid, status="waiting") == [], f"{uid}'s messages final")


def test_search_finds_by_each_filter_newest_first_with_pages(live: RunningServer) -> None:
    a, b = live.customer(balance=1000), live.customer(balance=1000)
    send(live, a, "13912345678", "first of a")
    send(live, b, "13912345678", "first of b")
    send(live, a, "13912340000", "to the number that fails")  # the simulator: UNDELIV
    send(live, a, ",".join(f"1371234{i:04d}" for i in range(100, 155)), "a batch of 55")
    with admin_client(live, "support") as client:
        settled(client, a.uid)
        settled(client, b.uid)
        before = last_audit_id(live)
        # Nothing typed: the latest messages of every account, newest first, 50 a page.
        page = client.get("/admin/messages")
        assert page.status_code == 200
        assert 'data-testid="messages"' in page.text and "a batch of 55" in page.text
        newest = listed(client)
        assert newest == sorted(newest, reverse=True) and len(newest) == 50
        # The number, across accounts; then one account's only.
        both = listed(client, mobile="13912345678")
        assert len(both) == 2 and both[0] > both[1]
        one = client.get("/admin/messages", params={"mobile": "13912345678", "uid": b.uid})
        assert "first of b" in one.text and "first of a" not in one.text
        assert f'href="/admin/accounts/{b.uid}"' in one.text
        # The failed one: its badge says the status and what it means.
        failed = client.get("/admin/messages", params={"uid": a.uid, "status": "failed"})
        assert failed.text.count('data-testid="life-') == 1
        assert "Failed · UNDELIV" in failed.text
        assert "The carrier could not deliver it" in failed.text
        assert listed(client, uid=a.uid, status="UNDELIV") == listed(
            client, uid=a.uid, status="failed"
        )
        # The batch, by keyset pages: 50, then the 5 older, then back.
        in_batch = client.get("/admin/messages", params={"uid": a.uid, "mobile": "13712340154"})
        batch = re.search(
            r"/admin/messages\?batch=(\d+)",
            client.get(f"/admin/messages/{LIFE_LINK.findall(in_batch.text)[0]}").text,
        )
        assert batch
        first = client.get("/admin/messages", params={"batch": batch.group(1)})
        older = re.search(r'href="([^"]+)" data-testid="older"', first.text)
        assert older and 'data-testid="newer"' not in first.text
        second = client.get(html.unescape(older.group(1)))
        assert second.text.count('data-testid="life-') == 5
        newer = re.search(r'href="([^"]+)" data-testid="newer"', second.text)
        assert newer and 'data-testid="older"' not in second.text
        back = client.get(html.unescape(newer.group(1)))
        assert LIFE_LINK.findall(back.text) == LIFE_LINK.findall(first.text)
        # By id, by channel, by day.
        [top] = listed(client, id=str(newest[0]))
        assert top == newest[0]
        assert listed(client, uid=b.uid, channel="simulator") == listed(client, uid=b.uid)
        assert listed(client, uid=b.uid, channel="elsewhere") == []
        assert listed(client, uid=b.uid, since="2000-01-01", until="2000-01-02") == []
        empty = client.get(
            "/admin/messages", params={"uid": b.uid, "since": "2000-01-01", "until": "2000-01-02"}
        )
        assert "No message matches this search." in empty.text
        # What cannot be read is said beside the form, which keeps what was typed.
        bad = client.get("/admin/messages", params={"since": "2026-13-01", "mobile": "139"})
        assert bad.status_code == 400 and 'data-testid="search-error"' in bad.text
        assert "YYYY-MM-DD" in bad.text and 'value="139"' in bad.text
        nobody = client.get("/admin/messages", params={"uid": "no-such-account"})
        assert nobody.status_code == 404 and "no account" in nobody.text
        assert 'name="uid" type="text" value="no-such-account"' in nobody.text
        assert audit_since(live, before) == []


def test_a_message_life_from_acceptance_to_its_report(live: RunningServer) -> None:
    c = live.customer(balance=100)
    live.operate(lambda op: op.set_refund(c.uid, True))
    send(live, c, "13922225678", "好" * 71)  # two parts, delivered
    # UNDELIV and refunded; and not a number at all: refused at acceptance.
    send(live, c, "13922220000,1392222bad", "will fail")
    with admin_client(live, "finance") as client:
        settled(client, c.uid)
        ok_id, failed_id = (
            listed(client, mobile="13922225678")[0],
            listed(client, mobile="13922220000")[0],
        )
        # The customer fetches its reports by /st/: the life says so.
        until(lambda: live.get("/st/", c.auth()).content != b"", "the reports are out")
        ok = client.get(f"/admin/messages/{ok_id}")
        assert ok.status_code == 200
        text = ok.text
        assert 'data-state="delivered"' in text
        assert f'href="/admin/accounts/{c.uid}"' in text
        assert re.search(r'href="/admin/messages\?batch=\d+" data-testid="life-batch"', text)
        kinds = re.findall(r'data-kind="([a-z_]+)"', text)
        assert kinds[:2] == ["accepted", "charged"]
        assert kinds.count("submitted") == 2 and kinds.count("receipt") == 2
        for later in ("final", "report_written", "fetched"):
            assert later in kinds
        assert "Charged 2 parts" in text and "Delivered to the handset." in text
        # Times to the millisecond, and the time since acceptance.
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", text)
        assert "+0 ms" in text
        bad = client.get(f"/admin/messages/{failed_id}").text
        assert "Failed · UNDELIV" in bad and "Refunded 1 part" in bad
        assert "The carrier could not deliver it" in bad
        assert "refunded" in re.findall(r'data-kind="([a-z_]+)"', bad)
        [refused_id] = listed(client, uid=c.uid, status="112")
        refused = client.get(f"/admin/messages/{refused_id}").text
        assert "Nothing (refused when sent)" in refused and "Failed · 112" in refused
        missing = client.get(f"/admin/messages/{ok_id + 10_000_000}")
        assert missing.status_code == 404 and "There is no message" in missing.text


def test_every_role_reads_messages_and_nobody_else_does(live: RunningServer) -> None:
    c = live.customer(balance=10)
    send(live, c, "13933330001", "seen by all")
    for role in ("admin", "support", "finance"):
        with admin_client(live, role) as client:
            [found] = listed(client, uid=c.uid)
            assert client.get(f"/admin/messages/{found}").status_code == 200
    with httpx.Client(base_url=live.url) as anonymous:
        away = anonymous.get("/admin/messages", params={"uid": c.uid})
        assert away.status_code == 303 and "/admin/sign-in" in away.headers["location"]
    customer = ConsoleClient(live, c)
    try:
        assert customer.get("/admin/messages").status_code == 303
        assert customer.get(f"/admin/messages/{found}").status_code == 303
    finally:
        customer.close()
