"""The console in a real browser: Debian's Chromium driven by Playwright.

Playwright's own browser download cannot work here, so the browser is
`/usr/bin/chromium` (`.ci/run` installs it with apt-get when missing);
without it these tests skip, or fail under HONGYAN_REQUIRE_SERVICES=1.

`shoot(page, name)` saves a screenshot of the page at 1280 px and at 390 px
(a phone) under `artifacts/screenshots/` (HONGYAN_ARTIFACTS elsewhere): the
run's artefacts, looked at by people, never committed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Customer, RunningServer, service_missing
from tests.integration.conftest import live_server

CHROMIUM = Path(os.environ.get("HONGYAN_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("HONGYAN_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Generous: a loaded two-core CI machine; the bound only ends a hang.
TIMEOUT_MS = 30_000


# Per module, not per session: Playwright's sync API keeps an event loop
# running on the main thread until it stops, and every asyncio test after it
# would then fail with "Cannot run the event loop while another loop is running".
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        service_missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is not installed (pip install -e '.[dev]')")
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # As root (CI containers) Chromium needs --no-sandbox; /dev/shm may be small.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
    except Exception as exc:
        playwright.stop()
        service_missing(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield launched
    launched.close()
    playwright.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A delivering platform (simulator receipts within 50 ms) whose console the tests drive."""
    server = live_server(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desktop width, in Chinese."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert not errors, f"the page's script failed or broke its CSP: {errors}"


def sign_in(page: Any, server: RunningServer, customer: Customer) -> None:
    """Sign in through the form, as a person would, and land on the overview."""
    page.goto(f"{server.url}/console/sign-in")
    page.fill("input[name=uid]", customer.uid)
    page.fill("input[name=password]", customer.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(\?.*)?$"))


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Any, str], None]:
    """Screenshots of the page as it is, full length, at desktop and phone widths."""

    def take(page: Any, name: str) -> None:
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        for label, size in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return take
