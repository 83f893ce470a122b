"""In Chromium against the whole product: a virtual AI commanded over its high limit alarms;
the alarm appears in the open console and the navigation bar's counts change without a reload;
the operator acknowledges it from the page with a comment; it moves to acknowledged and its
page names who acknowledged it and why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import Stack
from tests.browser.test_browser import sign_in
from tests.worker.conftest import manage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
LIVE = 20_000  # ms: the worker's virtual sync (about 2 s) plus the alarm's way to the page


def add_alarming_sensor(stack: Stack, device_id: int) -> int:
    """A virtual temperature sensor (its AI alarms above 30.0 through notification class 1) with
    no time delay, so a crossing alarms at once; the AI's pk. The worker serves it within its
    virtual sync interval."""
    made = manage(
        stack.database_url, "bacnet_virtual", "create", "--device-id", str(device_id),
        "--name", f"Sensor {device_id}", "--template", "temperature_sensor",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    code = (
        "from bms.virtual import services\n"
        "from bms.virtual.models import VirtualObject\n"
        f"obj = VirtualObject.objects.get(device__device_id={device_id}, name='Temperature')\n"
        "services.update_virtual_object(obj, time_delay=0)\n"
        "print(obj.pk)\n"
    )
    configured = manage(stack.database_url, "shell", "-c", code)
    assert configured.returncode == 0, configured.stderr
    return int(configured.stdout.strip().splitlines()[-1])


def command(page: Any, object_pk: int, value: float) -> None:
    """Through the API, with the page's session and CSRF token (as a script in the page would)."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(
        f"/api/virtual-objects/{object_pk}/command",
        data=json.dumps({"value": value}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert answer.status == 200, answer.text()


def test_an_alarm_appears_live_and_is_acknowledged_from_the_console(page: Any, stack: Stack):
    sensor = add_alarming_sensor(stack, 2101)
    sign_in(page, "otto")
    page.goto("/alarms/")
    unacked = page.locator("#alarm-counts [data-alarm-count=unacknowledged]")
    active = page.locator("#alarm-counts [data-alarm-count=active]")
    expect(unacked).to_have_text("0")

    command(page, sensor, 35.0)
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Temperature")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator("[data-state]")).to_have_text("high-limit")
    expect(unacked).to_have_text("1")
    expect(active).to_have_text("1")
    screenshot(page, "alarm-console-unacknowledged")

    row.locator("input[name=comment]").fill("checked the room")
    row.locator("button", has_text="Acknowledge").click()
    expect(page).to_have_url("/alarms/")
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Temperature")
    expect(row.locator("[data-ack]")).to_have_text("acknowledged", timeout=LIVE)
    expect(unacked).to_have_text("0", timeout=LIVE)
    expect(active).to_have_text("1")

    row.locator("a").first.click()
    acked = page.locator("#alarm-transitions tr[data-transition-id] [data-acked]").first
    expect(acked).to_contain_text("by otto")
    expect(acked).to_contain_text("checked the room")
    screenshot(page, "alarm-acknowledged")


def add_silent_point(stack: Stack) -> int:
    """A remote point no value will come for (not monitored, its device is not on the
    network); its pk."""
    code = (
        "from bms.devices.models import BACnetDevice, BACnetPoint\n"
        "device = BACnetDevice.objects.create(device_instance=3999, address='127.0.0.250:47808')\n"
        "point = BACnetPoint.objects.create(device=device, object_type='analog-input',\n"
        "    instance=1, name='Silent sensor', monitored=False)\n"
        "print(point.pk)\n"
    )
    made = manage(stack.database_url, "shell", "-c", code)
    assert made.returncode == 0, made.stderr
    return int(made.stdout.strip().splitlines()[-1])


def test_a_stale_rule_made_in_the_page_raises_its_alarm_on_the_workers_clock(
    page: Any, stack: Stack
):
    """The rule form refuses a stale rule without its limit, with the reason; saved, the
    worker (its rules reloaded within 10 s, its clock every 5 s) raises the alarm live."""
    point = add_silent_point(stack)
    sign_in(page, "otto")
    page.goto(f"/alarms/rules/?point={point}")
    form = page.locator("#new-alarm-rule")
    form.locator("select[name=kind]").select_option("stale")
    form.locator("input[name=priority]").fill("30")
    form.locator("button", has_text="Create").click()
    expect(page.locator("#new-alarm-rule p.error")).to_contain_text("stale_seconds above 0")

    page.locator("#new-alarm-rule input[name=stale_seconds]").fill("1")
    page.locator("#new-alarm-rule button", has_text="Create").click()
    expect(page.locator("#alarm-rules tr[data-rule]", has_text="Silent sensor")).to_be_visible()

    page.goto("/alarms/")
    row = page.locator("#alarm-console tr[data-alarm-id]", has_text="Silent sensor")
    expect(row).to_be_visible(timeout=30_000)
    expect(row.locator("[data-state]")).to_have_text("fault")
    expect(row).to_contain_text("no value for 1 s")
    screenshot(page, "alarm-rule-stale")
