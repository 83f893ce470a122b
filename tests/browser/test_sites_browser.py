"""In Chromium, with a second site known: an operator picks the site of a discovery, and the
task lists show each task's site, live, for new tasks and for tasks that change state, as the
devices table shows each device's."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import SIMULATED_DEVICES, Stack
from tests.browser.test_browser import sign_in
from tests.worker.conftest import sql

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


def add_site_without_a_live_worker(stack: Stack, site: str) -> None:
    """What a worker of `site` leaves behind once it has stopped: a site, but none alive."""
    sql(
        stack.database_url,
        "INSERT INTO tasks_worker (worker_id, site, backend, hostname, pid, started_at, "
        "heartbeat_at) VALUES (%s, %s, 'native', 'elsewhere', NULL, %s, %s)",
        f"{site}-worker",
        site,
        "2020-01-01 00:00:00",
        "2020-01-01 00:00:00",
    )


def discover_on(page: Any, site: str) -> Any:
    """Queue a discovery for `site` from the form; the new task's row (the top one)."""
    page.select_option("#discover-form select[name=site]", site)
    page.click("#discover-form button[type=submit]")
    expect(page.locator("#discover-form .form-status")).to_contain_text(f"queued for site {site}")
    return page.locator("#task-table tr[data-task-id]").first


def test_an_operator_picks_the_site_and_task_rows_show_it_live(page: Any, stack: Stack):
    add_site_without_a_live_worker(stack, "north")
    sign_in(page, "otto")
    options = page.locator("#discover-form select[name=site] option")
    expect(options).to_have_text(["default", "north (no worker alive: the task waits)"])
    expect(page.locator("#task-table th", has_text="Site")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    north_row = discover_on(page, "north")
    expect(north_row.locator("td.site")).to_have_text("north")
    expect(north_row.locator(".badge")).to_have_text("pending")

    # The worker of site default runs this one: the row changes state and keeps its site.
    default_row = discover_on(page, "default")
    expect(default_row.locator("td.site")).to_have_text("default")
    expect(default_row.locator(".badge")).to_have_text("completed", timeout=20_000)
    expect(default_row.locator("td.site")).to_have_text("default")
    # The devices it found arrive as live rows with their site too.
    devices = page.locator("#device-table tr[data-device-id]")
    expect(devices).to_have_count(SIMULATED_DEVICES, timeout=20_000)
    expect(devices.locator("td.site")).to_have_text(["default"] * SIMULATED_DEVICES)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "20-discovery-per-site")

    page.goto("/devices/?site=north")
    expect(page.locator("#device-table tr[data-device-id]")).to_have_count(0)

    page.goto("/tasks/?site=north")
    rows = page.locator("#task-table tr[data-task-id]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.site")).to_have_text("north")
    ((site,),) = sql(
        stack.database_url,
        "SELECT site FROM tasks_bacnettask WHERE id = %s",
        int(rows.first.get_attribute("data-task-id")),
    )
    assert site == "north"
