"""The operator console in a real browser: sign-in, the operators page (create,
disable with its confirmation), my account with the TOTP enrolment, the 403
page; a screenshot of each at 1280 px (and a phone's width)."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from tests.conftest import RunningServer
from tests.integration.admin_client import make_operator


def operator_sign_in(page: Any, server: RunningServer, name: str, password: str) -> None:
    page.goto(f"{server.url}/admin/me")
    page.wait_for_url(re.compile(r".*/admin/sign-in\?next=.*"))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/me$"))


def test_an_admin_manages_operators_in_the_browser(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    admin = make_operator(console, "admin")
    make_operator(console, "finance")
    page.goto(f"{console.url}/admin/sign-in")
    page.fill("input[name=name]", admin.name)
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=sign-in-error]")
    shoot(page, "admin-sign-in")
    operator_sign_in(page, console, admin.name, admin.password)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["hy_admin"]["httpOnly"] and cookies["hy_admin"]["sameSite"] == "Strict"
    assert page.get_by_test_id("operator-name").inner_text() == admin.name

    page.goto(f"{console.url}/admin/operators")
    form = page.get_by_test_id("create-operator")
    name = f"kim-{admin.name}"
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=role]").select_option("support")
    form.locator("input[name=password]").fill("kims-password-1")
    form.locator("input[name=again]").fill("kims-password-1")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=flash]")
    assert name in page.get_by_test_id("operators").inner_text()
    shoot(page, "admin-operators")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"disable-{name}").click()
    page.wait_for_selector(f"[data-testid=enable-{name}]")
    assert "disabled" in page.get_by_test_id("flash").inner_text()


def test_my_account_sets_up_a_second_factor(page: Any, console: RunningServer, shoot: Any) -> None:
    me = make_operator(console, "support")
    operator_sign_in(page, console, me.name, me.password)
    assert page.locator("[data-testid=totp-qr] svg").count() == 1
    shoot(page, "admin-me")
    secret = page.locator("input[name=secret]").get_attribute("value")
    page.fill("form[action='/admin/me/totp'] input[name=password]", me.password)
    page.fill("form[action='/admin/me/totp'] input[name=code]", pyotp.TOTP(secret).now())
    page.click("form[action='/admin/me/totp'] button[type=submit]")
    page.wait_for_selector("[data-testid=flash]")
    assert page.locator("[data-testid=totp-qr]").count() == 0

    # A support operator meets the 403 page on an admin's action.
    page.goto(f"{console.url}/admin/operators")
    assert page.get_by_test_id("create-operator").count() == 0
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post';
           f.action = '/admin/operators'; const c = document.createElement('input');
           c.name = 'csrf'; c.value = document.querySelector('input[name=csrf]').value;
           f.appendChild(c); document.body.appendChild(f); f.submit(); }"""
    )
    page.wait_for_selector("[data-testid=forbidden]")
    shoot(page, "admin-forbidden")
