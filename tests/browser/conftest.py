"""Chromium (Debian's, never a downloaded one) driving the real product over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import Stack, start_stack
from tests.conftest import require_services

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_MS = 15_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if require_services():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # Playwright's expect() waits 5 s unless told: too short for what the worker and the
    # live channel bring on a loaded machine. Each wait returns as soon as it holds.
    expect.set_options(timeout=EXPECT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh browser context that may only talk to our server: anything else is blocked and
    recorded, and the test fails if the page tried."""
    stack.check_alive()
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(stack.base_url) or route.request.url.startswith(
            f"ws://127.0.0.1:{stack.http_port}"
        ):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports what the Content-Security-Policy blocked on the console.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    stack.check_alive()
    assert outside == [], f"the page tried to load from elsewhere: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked}"


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
