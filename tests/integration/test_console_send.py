"""The console's send flow by plain HTTP: preview, confirm once, refusals,
and scheduled sends cancelled only by their own account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.console_client import ConsoleClient, draft_of, shown


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = live_server(tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture
def signed_in(server: RunningServer) -> Iterator[Callable[[Customer], ConsoleClient]]:
    """Console sessions by HTTP, closed after the test."""
    opened: list[ConsoleClient] = []

    def open_one(customer: Customer) -> ConsoleClient:
        opened.append(ConsoleClient(server, customer))
        return opened[-1]

    yield open_one
    for client in opened:
        client.close()


def balance(server: RunningServer, uid: str, pwd: str) -> int:
    answer = server.get("/mm/", {"uid": uid, "pwd": pwd})
    return int(answer.text.split("remain=")[1])


def test_preview_shows_the_numbers_and_cost_and_confirm_sends_once(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    customer = server.customer(balance=100)
    client = signed_in(customer)
    preview = client.preview(
        "13800000001\n13800000002\n12345\n+8613800000001", "【鸿雁】验证码 1234" + "长" * 60
    )
    assert preview.status_code == 200
    html = preview.text
    assert shown(html, "valid") == "2"
    assert shown(html, "parts") == "2"  # 76 characters: two parts of 67
    assert shown(html, "cost") == "4"
    assert shown(html, "after") == "96"
    assert "12345" in html and "+8613800000001" in html
    assert balance(server, customer.uid, customer.pwd) == 100  # a preview charges nothing

    draft = draft_of(preview)
    sent = client.post("/console/send/confirm", {"draft": draft})
    assert sent.status_code == 200
    assert shown(sent.text, "accepted") == "2"
    assert shown(sent.text, "refused") == "1"
    assert shown(sent.text, "charged") == "4"
    assert "12345" in sent.text and "/console/records?batch=" in sent.text
    assert balance(server, customer.uid, customer.pwd) == 96

    again = client.post("/console/send/confirm", {"draft": draft})
    assert again.status_code == 404
    assert balance(server, customer.uid, customer.pwd) == 96


def test_another_account_cannot_send_a_draft(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    owner, stranger = server.customer(balance=100), server.customer(balance=100)
    mine, theirs = signed_in(owner), signed_in(stranger)
    draft = draft_of(mine.preview("13800000003", "hello"))
    assert theirs.post("/console/send/confirm", {"draft": draft}).status_code == 404
    assert balance(server, stranger.uid, stranger.pwd) == 100
    assert mine.post("/console/send/confirm", {"draft": draft}).status_code == 200
    assert balance(server, owner.uid, owner.pwd) == 99


def test_not_enough_balance_sends_nothing_and_keeps_the_draft(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    customer = server.customer(balance=1)
    client = signed_in(customer)
    preview = client.preview("13800000004,13800000005", "hello")
    assert shown(preview.text, "after") == "-1"
    refused = client.post("/console/send/confirm", {"draft": draft_of(preview)})
    assert refused.status_code == 400
    assert "余额不足" in refused.text
    assert balance(server, customer.uid, customer.pwd) == 1
    assert draft_of(refused) == draft_of(preview)  # "try again" after a top-up


def test_a_refused_form_is_shown_again_with_why(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    client = signed_in(server.customer(balance=10))
    no_number = client.preview("12345", "hello")
    assert no_number.status_code == 400 and "hello" in no_number.text
    too_far = client.preview("13800000006", "hello", time="2099-01-01T10:00")
    assert too_far.status_code == 400
    bad_file = client.post(
        "/console/send",
        {"numbers": "", "content": "hi"},
        files={"file": ("list.xlsx", b"not a workbook", "application/octet-stream")},
    )
    assert bad_file.status_code == 400 and ".xlsx" in bad_file.text


def test_a_scheduled_send_is_cancelled_by_its_account_only(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    owner, stranger = server.customer(balance=100), server.customer(balance=100)
    mine, theirs = signed_in(owner), signed_in(stranger)
    at = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=2)
    preview = mine.preview("13800000007,13800000008", "later", time=at.strftime("%Y-%m-%dT%H:%M"))
    assert "定时" in shown(preview.text, "due") or preview.text.count("badge-wait")
    sent = mine.post("/console/send/confirm", {"draft": draft_of(preview)})
    batch = shown(sent.text, "batch")
    assert balance(server, owner.uid, owner.pwd) == 98
    listed = mine.http.get("/console/scheduled").text
    assert f'data-batch="{batch}"' in listed
    assert f'data-batch="{batch}"' not in theirs.http.get("/console/scheduled").text

    refused = theirs.post("/console/scheduled/cancel", {"batch": batch})
    assert refused.status_code == 303 and "missing=1" in refused.headers["location"]
    assert balance(server, owner.uid, owner.pwd) == 98

    done = mine.post("/console/scheduled/cancel", {"batch": batch})
    assert done.status_code == 303 and "cancelled=2" in done.headers["location"]
    assert balance(server, owner.uid, owner.pwd) == 100
    assert f'data-batch="{batch}"' not in mine.http.get("/console/scheduled").text


def test_a_post_without_the_form_token_is_refused(
    server: RunningServer, signed_in: Callable[[Customer], ConsoleClient]
) -> None:
    customer = server.customer(balance=10)
    client = signed_in(customer)
    answer = client.http.post("/console/send", data={"numbers": "13800000009", "content": "x"})
    assert answer.status_code == 403
