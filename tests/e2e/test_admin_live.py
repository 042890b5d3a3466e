"""The channels and system pages in a real browser: the live throughput chart
and figures update without a reload as messages are sent, a keyword is
blocked and a text tested against it, a channel's figures come in live and
it is paused and resumed; screenshots admin-system and admin-channels."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import RunningServer
from tests.e2e.test_admin_console import operator_sign_in
from tests.integration.admin_client import make_operator

_numbers = itertools.count(13_900_070_000)


def send(server: RunningServer, auth: dict[str, str], n: int) -> None:
    mobiles = ",".join(str(next(_numbers)) for _ in range(n))
    answer = server.post("/mt/", {**auth, "mobile": mobiles, "content": "your code is 4321"})
    assert answer.content.startswith(b"sms&stat=100"), answer.content


def test_the_system_page_updates_live_and_tests_keywords(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    admin = make_operator(console, "admin")
    operator_sign_in(page, console, admin.name, admin.password)
    page.goto(f"{console.url}/admin/system")
    form = page.get_by_test_id("add-keyword")
    form.locator("input[name=word]").fill("free gift")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=flash]")
    assert "free gift" in page.get_by_test_id("keyword-list").inner_text()
    tester = page.get_by_test_id("test-keywords")
    tester.locator("input[name=text]").fill("Claim your FREE-GIFT now")
    tester.locator("button[type=submit]").click()
    result = page.get_by_test_id("keyword-test")
    assert "would refuse" in result.inner_text() and "free gift" in result.inner_text()

    customer = console.customer()
    send(console, customer.auth(), 40)
    # The page is not reloaded: its script reads live.json each second.
    page.wait_for_function(
        """() => Number(document.querySelector('[data-testid=live-total-accepted]')
                 .textContent.replace(/,/g, '')) >= 40""",
        timeout=120_000,
    )
    points = page.locator("polyline[data-series=accepted]").get_attribute("points")
    assert points and len(points.split()) == 60
    assert page.locator("[data-chart-grid] text").count() == 5
    shoot(page, "admin-system")


def test_the_channels_page_shows_figures_live_and_pauses_a_channel(
    page: Any, console: RunningServer, shoot: Any
) -> None:
    name = console.settings.simulator.name
    admin = make_operator(console, "admin")
    operator_sign_in(page, console, admin.name, admin.password)
    page.goto(f"{console.url}/admin/channels")
    row = page.get_by_test_id(f"channel-{name}")
    before = int(row.locator("[data-f=submitted]").inner_text().replace(",", ""))
    send(console, console.customer().auth(), 25)
    page.wait_for_function(
        f"""() => Number(document.querySelector('[data-testid=channel-{name}] [data-f=submitted]')
                 .textContent.replace(/,/g, '')) >= {before + 25}""",
        timeout=120_000,
    )
    assert "up" in row.locator("[data-f=state]").inner_text()
    shoot(page, "admin-channels")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"pause-{name}").click()
    page.wait_for_selector(f"[data-testid=resume-{name}]")
    assert "paused" in page.get_by_test_id(f"channel-{name}").inner_text()
    page.get_by_test_id(f"resume-{name}").click()
    page.wait_for_selector(f"[data-testid=pause-{name}]")
