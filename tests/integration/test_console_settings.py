"""The console's settings page over HTTP: IP binding with its warning, push
settings, the test push and the last deliveries, limits; one account never
reaches another's settings."""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from collections.abc import Iterator

import pytest

from hongyan.testing import FAIL, PushReceiver
from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.console_client import ConsoleClient
from tests.waiting import until

SECRET = "a-secret-of-the-customer"


@pytest.fixture(scope="module")
def live_push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = live_server(
        tmp_path_factory,
        push={
            "run": True,
            "allowed_networks": ["127.0.0.1/32"],
            "poll_s": 0.05,
            "retry_base_s": 0.05,
            "retry_max_s": 0.3,
            "timeout_s": 2,
            "dns_cache_s": 0,
        },
    )
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver().start()
    yield r
    r.stop()


_OPENED: list[ConsoleClient] = []


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    """Every console client a test opened is closed, even when the test fails."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def signed_in(server: RunningServer, customer: Customer) -> ConsoleClient:
    _OPENED.append(ConsoleClient(server, customer))
    return _OPENED[-1]


def stat(live_push: RunningServer, customer: Customer) -> str:
    answer = live_push.get("/mm/", customer.auth()).content.decode("gbk")
    found = re.search(r"stat=(\d+)", answer)
    assert found is not None, answer
    return found.group(1)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_page_shows_the_browsers_address_and_the_limits(live_push: RunningServer) -> None:
    customer = live_push.customer(per_number="1/30s,5/h,10/d", rate="20")
    console = signed_in(live_push, customer)
    page = console.get("/console/settings")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "127.0.0.1" in shown
    assert "每 30 秒最多 1 条，每小时最多 5 条，每天最多 10 条" in shown
    summary = live_push.operate(lambda op: op.show(customer.uid))
    gateway = live_push.settings.gateway_prefix + summary.ext_code
    assert re.search(rf'data-testid="gateway">{gateway}<', page.text)
    console.close()


def test_a_first_binding_warns_of_the_clients_calling_now_and_waits_for_a_yes(
    live_push: RunningServer,
) -> None:
    customer = live_push.customer()
    assert stat(live_push, customer) == "100"  # an API client calling from 127.0.0.1
    console = signed_in(live_push, customer)
    asked = console.post("/console/settings/addresses", {"action": "add", "address": "203.0.113.7"})
    assert asked.status_code == 200
    warning = re.search(r'data-testid="lockout-warning">(.*?)</form>', asked.text, re.S)
    assert warning is not None and "127.0.0.1" in warning.group(1)
    assert stat(live_push, customer) == "100"  # nothing bound before the yes
    done = console.post(
        "/console/settings/addresses",
        {"action": "add", "address": "203.0.113.7/32", "confirm": "1"},
    )
    assert done.status_code == 303
    assert stat(live_push, customer) == "117"  # at once: the gates were refreshed
    assert live_push.operate(lambda op: op.show(customer.uid)).networks == ("203.0.113.7/32",)
    # Binding the loopback too warns of nothing: it only widens.
    widened = console.post(
        "/console/settings/addresses", {"action": "add", "address": "127.0.0.0/8"}
    )
    assert widened.status_code == 303
    assert stat(live_push, customer) == "100"
    # Removing it would refuse the loopback client again: asked first.
    asked = console.post(
        "/console/settings/addresses", {"action": "remove", "address": "127.0.0.0/8"}
    )
    assert 'data-testid="lockout-warning"' in asked.text
    assert stat(live_push, customer) == "100"
    console.post(
        "/console/settings/addresses",
        {"action": "remove", "address": "127.0.0.0/8", "confirm": "1"},
    )
    assert stat(live_push, customer) == "117"
    # The last binding removed: any address again, nothing to warn of.
    gone = console.post(
        "/console/settings/addresses", {"action": "remove", "address": "203.0.113.7"}
    )
    assert gone.status_code == 303
    assert stat(live_push, customer) == "100"
    console.close()


def test_bad_and_too_many_bindings_are_refused_in_chinese(live_push: RunningServer) -> None:
    customer = live_push.customer()
    console = signed_in(live_push, customer)
    bad = console.post("/console/settings/addresses", {"action": "add", "address": "1.2.3"})
    assert bad.status_code == 400 and "不是有效的 IP 地址或网段" in text_of(bad.text)
    most = live_push.settings.max_bound_addresses
    for n in range(most):
        added = console.post(
            "/console/settings/addresses", {"action": "add", "address": f"198.51.100.{n}"}
        )
        assert added.status_code == 303
    full = console.post("/console/settings/addresses", {"action": "add", "address": "203.0.113.1"})
    assert full.status_code == 400 and f"最多绑定 {most} 个" in text_of(full.text)
    again = console.post(
        "/console/settings/addresses", {"action": "remove", "address": "198.51.100.0"}
    )
    assert again.status_code == 303
    twice = console.post(
        "/console/settings/addresses", {"action": "add", "address": "198.51.100.1"}
    )
    assert twice.status_code == 400 and "已经绑定" in text_of(twice.text)
    console.close()


def test_one_account_cannot_change_anothers_binding_or_push(live_push: RunningServer) -> None:
    owner, other = live_push.customer(), live_push.customer()
    live_push.operate(lambda op: op.bind_address(owner.uid, "192.0.2.128/25"))
    console = signed_in(live_push, other)
    page = console.get("/console/settings")
    assert "192.0.2.128/25" not in page.text
    # Every change acts on the signed-in account: naming another's uid changes nothing.
    refused = console.post(
        "/console/settings/addresses",
        {"action": "remove", "address": "192.0.2.128/25", "uid": owner.uid},
    )
    assert refused.status_code == 400 and "没有绑定" in text_of(refused.text)
    assert live_push.operate(lambda op: op.show(owner.uid)).networks == ("192.0.2.128/25",)
    console.close()


def test_a_change_without_the_sessions_token_is_refused(live_push: RunningServer) -> None:
    customer = live_push.customer()
    console = signed_in(live_push, customer)
    forged = console.http.post(
        "/console/settings/addresses", data={"action": "add", "address": "203.0.113.7"}
    )
    assert forged.status_code == 403
    assert live_push.operate(lambda op: op.show(customer.uid)).networks == ()
    console.close()


def test_push_settings_never_show_the_secret_and_a_test_push_is_signed(
    live_push: RunningServer, receiver: PushReceiver
) -> None:
    customer = live_push.customer()
    console = signed_in(live_push, customer)
    saved = console.post(
        "/console/settings/push",
        {
            "reports_url": receiver.url,
            "replies_url": "",
            "method": "POST",
            "secret": SECRET,
            "batch": "1",
        },
    )
    assert saved.status_code == 303
    target = live_push.operate(lambda op: op.push_target(customer.uid))
    assert target is not None and target.reports_url == receiver.url and target.batch_reports
    page = console.get("/console/settings")
    assert SECRET not in page.text and "已设置" in text_of(page.text)
    # Saving again with the secret field empty keeps the secret.
    console.post(
        "/console/settings/push",
        {"reports_url": receiver.url, "replies_url": "", "method": "POST", "secret": ""},
    )
    target = live_push.operate(lambda op: op.push_target(customer.uid))
    assert target is not None and target.secret == SECRET and not target.batch_reports

    tested = console.post("/console/settings/push/test", {"kind": "report"})
    assert tested.status_code == 200
    assert "HTTP 200" in text_of(tested.text)
    assert re.search(r'data-testid="probe-answer">ok<', tested.text)
    (push,) = receiver.received
    (form,) = push.forms()
    assert form["cmd"] == "status" and form["uid"] == customer.uid
    assert form["mobileids"] == "hongyan-test"
    stamp = push.headers["x-hongyan-timestamp"]
    expected = hmac.new(
        SECRET.encode(), stamp.encode() + b"." + push.payload, hashlib.sha256
    ).hexdigest()
    assert push.headers["x-hongyan-signature"] == expected
    # No replies URL: the test of replies says so, and sends nothing.
    refused = console.post("/console/settings/push/test", {"kind": "reply"})
    assert refused.status_code == 400 and len(receiver.received) == 1
    console.close()


def test_a_test_push_to_a_failing_server_shows_its_status(
    live_push: RunningServer, receiver: PushReceiver
) -> None:
    customer = live_push.customer()
    receiver.mode = FAIL
    console = signed_in(live_push, customer)
    console.post(
        "/console/settings/push",
        {"reports_url": "", "replies_url": receiver.url, "method": "GET", "secret": ""},
    )
    tested = console.post("/console/settings/push/test", {"kind": "reply"})
    assert "HTTP 500" in text_of(tested.text) and 'class="alert alert-error"' in tested.text
    console.close()


def test_a_callback_to_a_private_address_is_refused_with_the_reason(
    live_push: RunningServer,
) -> None:
    customer = live_push.customer()
    console = signed_in(live_push, customer)
    refused = console.post(
        "/console/settings/push",
        {"reports_url": "http://10.0.0.5/report", "replies_url": "", "method": "GET"},
    )
    assert refused.status_code == 400
    assert "推送设置未保存" in text_of(refused.text) and "not a public address" in refused.text
    assert live_push.operate(lambda op: op.push_target(customer.uid)) is None
    console.close()


def test_the_last_deliveries_list_what_each_push_got(
    live_push: RunningServer, receiver: PushReceiver
) -> None:
    customer = live_push.customer()
    console = signed_in(live_push, customer)
    console.post(
        "/console/settings/push",
        {"reports_url": receiver.url, "replies_url": "", "method": "GET", "secret": ""},
    )
    sent = live_push.post(
        "/mt/", {**customer.auth(), "mobile": "13800138000", "content": "hi", "encode": "utf8"}
    )
    assert "stat=100" in sent.content.decode("gbk")
    until(lambda: receiver.forms(), "the report pushed")

    def listed() -> re.Match[str] | None:
        return re.search(
            r'data-testid="attempts">(.*?)</table>', console.get("/console/settings").text, re.S
        )

    until(listed, "the push listed among the last deliveries")
    rows = listed()
    assert rows is not None
    assert f"127.0.0.1:{receiver.port}" in rows.group(1) and "HTTP 200" in rows.group(1)
    # Another account sees none of them.
    other = signed_in(live_push, live_push.customer())
    assert 'data-testid="attempts"' not in other.get("/console/settings").text
    other.close()
    console.close()
