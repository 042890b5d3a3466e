"""Signing in and out of the console, and what a session allows."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.e2e.conftest import sign_in


def test_sign_in_shows_the_overview_and_sign_out_ends_the_session(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    customer = console.customer(balance=1234)
    page.goto(f"{console.url}/console/")
    page.wait_for_url(re.compile(r".*/console/sign-in\?next=.*"))
    shoot(page, "sign-in")
    sign_in(page, console, customer)
    assert page.get_by_test_id("balance").inner_text().startswith("1,234")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["hy_session"]["httpOnly"] and cookies["hy_session"]["sameSite"] == "Lax"
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))
    page.goto(f"{console.url}/console/")
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))


def test_a_wrong_password_is_refused_and_counts_toward_the_lock(
    page: Any, console: RunningServer
) -> None:
    customer = console.customer()
    page.goto(f"{console.url}/console/sign-in")
    for _ in range(console.settings.lockout_failures):
        page.fill("input[name=uid]", customer.uid)
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        page.wait_for_selector(".alert-error")
    # Locked: the right password is refused now, and the API answers 114 too.
    page.fill("input[name=uid]", customer.uid)
    page.fill("input[name=password]", customer.password)
    page.click("button[type=submit]")
    assert "失败次数过多" in page.locator(".alert-error").inner_text()
    assert "stat=114" in console.get("/mm/", customer.auth()).text


def test_a_form_without_its_token_is_refused(console: RunningServer) -> None:
    customer = console.customer()
    with httpx.Client(base_url=console.url) as client:
        answer = client.post(
            "/console/sign-in", data={"uid": customer.uid, "password": customer.password}
        )
    assert answer.status_code == 403
    assert "hy_session" not in answer.headers.get("set-cookie", "")


def test_the_session_cookie_is_renewed_at_sign_in(page: Any, console: RunningServer) -> None:
    """A token planted before sign-in (session fixation) is replaced, never adopted."""
    customer = console.customer()
    page.goto(f"{console.url}/console/sign-in")
    planted = "planted-by-an-attacker"
    page.context.add_cookies(
        [{"name": "hy_session", "value": planted, "url": f"{console.url}/console/sign-in"}]
    )
    sign_in(page, console, customer)
    values = [c["value"] for c in page.context.cookies() if c["name"] == "hy_session"]
    assert any(value != planted and len(value) >= 40 for value in values)
    with httpx.Client(base_url=console.url, cookies={"hy_session": planted}) as client:
        assert client.get("/console/").status_code == 303  # the planted one is no session
