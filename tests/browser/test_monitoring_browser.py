"""Monitoring in Chromium against the real product: an operator sets a device to be polled from
its page, the simulated device is silenced through the simulator's control socket, and the
devices page shows it unreachable and then online again, live, without a reload."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import FIRST_INSTANCE, Stack
from tests.browser.test_browser import discover, sign_in
from tests.worker.conftest import sql

SILENCED = FIRST_INSTANCE + 1
# Three failed polls of two 3 s attempts each (BACNET_HEALTH_FAILURES, BACNET_TIMEOUT,
# BACNET_RETRIES), then a probe after the first 5 s backoff: well inside a minute.
HEALTH_WAIT_MS = 60_000


def open_device(page: Any, instance: int) -> int:
    """Open the device's page from the devices page; its primary key."""
    if page.locator(f"#device-table a:text-is('{instance}')").count() == 0:
        discover(page)
    row = page.locator(f"#device-table tr:has(a:text-is('{instance}'))")
    pk = int(row.get_attribute("data-device-id"))
    row.locator(f"a:text-is('{instance}')").click()
    return pk


def save_monitoring(page: Any, monitored: str, mode: str, poll_seconds: str) -> None:
    form = page.locator("#monitoring-form")
    form.locator("select[name=monitored]").select_option(monitored)
    form.locator("select[name=mode]").select_option(mode)
    form.locator("input[name=poll_seconds]").fill(poll_seconds)
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-status")).to_contain_text("saved")


def test_a_silenced_device_turns_unreachable_and_back_online_live(page: Any, stack: Stack):
    sign_in(page, "otto")
    pk = open_device(page, SILENCED)
    page.click("#read-points")
    expect(page.locator("#point-table tr[data-point-id]").first).to_be_visible(timeout=20_000)
    points = page.locator("#point-table tr[data-point-id]").count()

    save_monitoring(page, "yes", "poll", "1")
    expect(page.locator("#watch-counts")).to_have_text(f"0 by COV · {points} polled")
    expect(page.locator("#monitoring-effective")).to_contain_text("poll every 1 s")
    screenshot(page, "20-device-monitoring-polled")
    ((monitored, mode, seconds),) = sql(
        stack.database_url,
        "SELECT monitored, monitor_mode, poll_seconds FROM devices_bacnetdevice WHERE id = %s",
        pk,
    )
    assert (bool(monitored), mode, seconds) == (True, "poll", 1)

    page.goto("/devices/")
    badge = page.locator(f'#device-table [data-health-for="{pk}"]')
    expect(badge).to_have_text("online")
    online = page.locator("#online-count")
    everyone = page.locator("#device-count").inner_text()
    expect(online).to_have_text(everyone)
    page.evaluate("window.notReloaded = true")
    stack.simulator(f"silence {SILENCED}")
    expect(badge).to_have_text("unreachable", timeout=HEALTH_WAIT_MS)
    expect(badge).to_have_class("badge pending")
    expect(page.locator(f'#device-table [data-health-since-for="{pk}"]')).to_contain_text("since")
    screenshot(page, "21-devices-one-unreachable")
    others = page.locator("#device-table [data-health-for]").all_inner_texts()
    assert others.count("online") == len(others) - 1
    # The counts are the server's (of every device, on any page), read again after the event.
    expect(online).to_have_text(str(int(everyone) - 1))

    stack.simulator(f"restore {SILENCED}")
    expect(badge).to_have_text("online", timeout=HEALTH_WAIT_MS)
    expect(online).to_have_text(everyone)
    assert page.evaluate("window.notReloaded") is True
    events = sql(
        stack.database_url,
        "SELECT from_health, to_health FROM devices_devicehealthevent WHERE device_id = %s "
        "ORDER BY time, id",
        pk,
    )
    assert events[-2:] == [("online", "unreachable"), ("unreachable", "online")]


def test_an_operator_sets_a_point_to_cov_from_its_page(page: Any, stack: Stack):
    sign_in(page, "otto")
    open_device(page, FIRST_INSTANCE)
    page.click("#read-points")
    point = page.locator("#point-table tr[data-object-type='analog-input'] a").first
    expect(point).to_be_visible(timeout=20_000)
    point.click()

    save_monitoring(page, "yes", "cov", "")

    expect(page.locator("#watched-by")).to_have_text("COV")
    expect(page.locator("#monitoring-effective")).to_contain_text("mode cov")
    page.reload()
    form = page.locator("#monitoring-form")
    expect(form.locator("select[name=mode]")).to_have_value("cov")
    expect(form.locator("input[name=poll_seconds]")).to_have_value("")
    screenshot(page, "22-point-monitoring-cov")
