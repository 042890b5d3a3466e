"""Settings, API access and the login password in a real browser: the issue's
flows "bind an IP and see the API answer 117 from elsewhere" and "change the
password and sign in again", and screenshots of both pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from hongyan.core.credentials import api_password
from hongyan.testing import PushReceiver
from tests.conftest import Customer, RunningServer
from tests.e2e.conftest import sign_in
from tests.integration.conftest import live_server
from tests.integration.console_client import ConsoleClient
from tests.waiting import until


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A delivering platform that may push to a receiver on loopback."""
    server = live_server(
        tmp_path_factory,
        push={"allowed_networks": ["127.0.0.1/32"], "poll_s": 0.05, "dns_cache_s": 0},
    )
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver().start()
    yield r
    r.stop()


def stat(answer: bytes) -> str:
    found = re.search(r"stat=(\d+)", answer.decode("gbk"))
    assert found is not None, answer
    return found.group(1)


def send(console: RunningServer, customer: Customer, mobiles: str) -> None:
    answer = console.post(
        "/mt/",
        {**customer.auth(), "mobile": mobiles, "content": "您的验证码是 4821", "encode": "utf8"},
    )
    assert stat(answer.content) == "100"


def test_bind_an_ip_and_the_api_answers_117_from_elsewhere(
    page: Any, console: RunningServer, receiver: PushReceiver, shoot: Any
) -> None:
    customer = console.customer(balance=5000, per_number="1/30s,5/h,10/d")
    console.operate(
        lambda op: op.set_push(
            customer.uid,
            reports=receiver.url,
            method="POST",
            secret="s3cret-of-the-customer-42",
            batch=True,
        )
    )
    send(console, customer, "13800138000,13900139000")  # an API client on 127.0.0.1
    until(lambda: len(receiver.forms()) >= 2, "both reports pushed")
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/settings")
    assert page.get_by_test_id("client-address").inner_text() == "127.0.0.1"
    page.get_by_test_id("address-input").fill("203.0.113.7")
    page.get_by_test_id("bind").click()
    warning = page.get_by_test_id("lockout-warning")
    assert "127.0.0.1" in warning.inner_text()
    assert stat(console.get("/mm/", customer.auth()).content) == "100"  # not yet
    page.get_by_test_id("confirm-binding").click()
    page.get_by_test_id("done").wait_for()
    assert "203.0.113.7/32" in page.get_by_test_id("bindings").inner_text()
    refused = console.get("/mt/", {**customer.auth(), "mobile": "13800138000", "content": "hi"})
    assert stat(refused.content) == "117"
    # The push part: a test push answered, and the last deliveries listed.
    page.get_by_test_id("test-report").click()
    assert "HTTP 200" in page.get_by_test_id("probe").inner_text()
    assert "已设置" in page.get_by_test_id("secret-state").inner_text()
    assert "s3cret-of-the-customer-42" not in page.content()
    assert page.get_by_test_id("attempts").locator("tbody tr").count() >= 1
    shoot(page, "settings")


def test_change_the_password_and_sign_in_again(page: Any, console: RunningServer) -> None:
    customer = console.customer()
    new_password = "a-new-login-password"
    elsewhere = ConsoleClient(console, customer)  # another signed-in browser
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/password")
    page.fill("input[name=current]", customer.password)
    page.fill("input[name=new]", new_password)
    page.fill("input[name=again]", new_password)
    page.click("form[action='/console/password'] button[type=submit]")
    page.wait_for_selector(".alert-ok")
    # The API pwd changed with it, at once.
    assert stat(console.get("/mm/", customer.auth()).content) == "101"
    new_auth = {"uid": customer.uid, "pwd": api_password(new_password, customer.uid)}
    assert stat(console.get("/mm/", new_auth).content) == "100"
    # The other session ended; this one goes on.
    ended = elsewhere.get("/console/settings")
    assert ended.status_code in (302, 303) and "/console/sign-in" in ended.headers["location"]
    elsewhere.close()
    page.goto(f"{console.url}/console/settings")
    assert page.url.endswith("/console/settings")
    # Signed out, the old password is refused and the new one signs in.
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))
    page.fill("input[name=uid]", customer.uid)
    page.fill("input[name=password]", customer.password)
    page.click("button[type=submit]")
    page.wait_for_selector(".alert-error")
    sign_in(page, console, Customer(customer.uid, new_password))


def test_the_api_access_page(page: Any, console: RunningServer, shoot: Any) -> None:
    customer = console.customer()
    sign_in(page, console, customer)
    page.goto(f"{console.url}/console/api")
    assert page.get_by_test_id("api-uid").inner_text() == customer.uid
    assert page.get_by_test_id("example-curl").is_visible()
    assert not page.get_by_test_id("example-python").is_visible()
    page.click("[data-example-tab=python]")
    python = page.get_by_test_id("example-python")
    assert python.is_visible() and customer.uid in python.inner_text()
    assert "<md5>" in python.inner_text()
    shoot(page, "api")
