"""In Chromium, against the real worker and a simulated building: sign in, discover devices
live, write a point as an operator, and see an external BACnet write arrive within a second."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import FIRST_INSTANCE, PASSWORD, SIMULATED_DEVICES, Stack
from tests.worker.conftest import ROOT, manage, process_env, sql

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

EXTERNAL_WRITER = """
import asyncio, sys, time
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real
from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application

port, obj, value = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])

async def main():
    app = await open_application(EngineConfig(address=f"127.0.0.9/8:{port}",
                                              device_instance=5009, device_name="external"))
    try:
        await app.write_property(Address(f"127.0.0.1:{port}"), obj, "present-value",
                                 Real(value), priority=8)
        print(f"acked {time.time()}", flush=True)
    finally:
        close_application(app)

asyncio.run(asyncio.wait_for(main(), 20))
"""


def sign_in(page: Any, username: str, shot: str = "") -> None:
    page.goto("/devices/")
    expect(page).to_have_url("/accounts/login/?next=/devices/")
    if shot:
        screenshot(page, shot)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url("/devices/")
    expect(page.locator("#live")).to_have_text("live")


def discover(page: Any) -> None:
    """Click Discover and watch every simulated device appear, without a reload."""
    page.evaluate("window.notReloaded = true")
    page.click("#discover-form button[type=submit]")
    expect(page.locator("#discover-form .form-status")).to_contain_text("queued")
    rows = page.locator("#device-table tr[data-device-id]")
    for index in range(SIMULATED_DEVICES):
        link = page.locator(f"#device-table a:text-is('{FIRST_INSTANCE + index}')")
        expect(link).to_be_visible(timeout=20_000)
    assert rows.count() >= SIMULATED_DEVICES
    expect(page.locator("#task-table tr").nth(1).locator(".badge")).to_have_text(
        "completed", timeout=20_000
    )
    assert page.evaluate("window.notReloaded") is True


def test_a_viewer_signs_in_and_sees_the_backend_and_no_commands(page: Any, stack: Stack):
    sign_in(page, "vera", shot="00-sign-in")
    status = page.locator("#backend-status")
    expect(status).to_contain_text("native")
    expect(status.locator(".mono")).to_contain_text("pid")  # the worker is alive
    expect(status.locator("[data-ago]")).to_contain_text("s ago")
    assert page.locator("#discover-form").count() == 0
    screenshot(page, "01-devices-viewer")


def test_an_operator_discovers_the_building_live(page: Any, stack: Stack):
    sign_in(page, "otto")
    discover(page)
    expect(page.locator("#device-count")).to_have_text(str(SIMULATED_DEVICES))
    screenshot(page, "02-devices-after-discovery")


def test_an_operator_writes_a_point_from_the_device_page(page: Any, stack: Stack):
    sign_in(page, "otto")
    if page.locator(f"#device-table a:text-is('{FIRST_INSTANCE}')").count() == 0:
        discover(page)
    page.click(f"#device-table a:text-is('{FIRST_INSTANCE}')")
    page.evaluate("window.notReloaded = true")
    page.click("#read-points")
    output = page.locator("#point-table tr[data-object-type='analog-output']").first
    expect(output).to_be_visible(timeout=20_000)
    output.locator("input[name=value]").fill("42.5")
    output.locator("input[name=priority]").fill("8")
    output.locator("button[type=submit]").click()
    expect(output.locator(".form-status")).to_contain_text("queued")
    row = page.locator("#point-table tr[data-object-type='analog-output']").first
    expect(row.locator("[data-value]")).to_have_text("42.50", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "03-device-after-write")
    audit = sql(
        stack.database_url,
        "SELECT who, new_value, priority, accepted FROM devices_writeaudit WHERE source='operator'",
    )
    assert [(who, float(value), priority, bool(ok)) for who, value, priority, ok in audit] == [
        ("otto", 42.5, 8, True)
    ]


# The page notes the moment (Date.now(), the same clock as the writer's time.time()) the element
# first shows the text; the claim is then timed from the writer's acknowledgement to that moment,
# without the writer's exit, Playwright's polling or the test's own steps in it.
NOTE_WHEN_SHOWN = """([selector, text]) => {
    window.shownAt = null;
    const check = () => {
        const element = document.querySelector(selector);
        if (window.shownAt === null && element && element.textContent.trim() === text) {
            window.shownAt = Date.now();
        }
    };
    new MutationObserver(check).observe(document.body,
        {subtree: true, childList: true, characterData: true});
}"""


def test_an_external_bacnet_write_shows_on_the_open_page_within_a_second(page: Any, stack: Stack):
    sign_in(page, "vera")
    page.goto("/virtual/2001/")
    expect(page.locator("#live")).to_have_text("live")
    ((pk, kind, instance),) = sql(
        stack.database_url,
        "SELECT id, object_type, instance FROM virtual_virtualobject WHERE name='Damper_Position'",
    )
    value = f"#object-table tr[data-object-id='{pk}'] [data-value]"
    expect(page.locator(value)).not_to_have_text("35.00")  # else nothing would change
    page.evaluate(NOTE_WHEN_SHOWN, [value, "35.00"])
    acked = external_write(stack, f"{kind},{instance}", 35.0)
    row = page.locator(f"#object-table tr:has(td:text-is('{kind},{instance}'))")
    # Long waits, so that a late update fails on the claim below with its time, not here.
    expect(row.locator("[data-value]")).to_have_text("35.00", timeout=15_000)
    expect(page.locator("#write-log tbody tr").first).to_contain_text(
        f"127.0.0.9:{stack.bacnet_port}", timeout=15_000
    )
    shown = page.evaluate("window.shownAt") / 1000
    assert shown - acked < 1.0, f"shown {shown - acked:.2f} s after the acknowledgement"
    expect(row.locator("[data-priorities]")).to_contain_text("8 35.00")
    screenshot(page, "04-virtual-after-external-write")


def test_the_other_pages_read_well(page: Any, stack: Stack):
    """Tasks, a task, a point's trend, the audit log, virtual devices, the create form and the
    API docs: each renders (screenshots for a human look) with what it is for."""
    sign_in(page, "otto")
    if page.locator(f"#device-table a:text-is('{FIRST_INSTANCE}')").count() == 0:
        discover(page)
    page.click(f"#device-table a:text-is('{FIRST_INSTANCE}')")
    if page.locator("#point-table tr[data-point-id]").count() == 0:
        page.click("#read-points")
    page.click("#collect")
    collect_row = page.locator("#task-table tr:has-text('Collect Readings')").first
    expect(collect_row.locator(".badge")).to_have_text("completed", timeout=20_000)
    page.click("#point-table tr[data-object-type='analog-input'] a")
    expect(page.locator("#trend canvas").first).to_be_attached()
    expect(page.locator("#trend-count")).to_contain_text("reading")
    screenshot(page, "05-point-trend")

    page.goto("/tasks/?type=discover")
    expect(page.locator("#task-table tr[data-task-id]").first).to_be_visible()
    assert page.locator("#task-table tr:has-text('Collect Readings')").count() == 0
    screenshot(page, "06-tasks-filtered")
    page.click("#task-table tr[data-task-id] a")
    expect(page.locator("[data-field=result]")).to_contain_text("devices_found")
    screenshot(page, "07-task-detail")

    page.goto("/audit/")
    # otto's sign-in, at the top of this test, is in the configuration audit
    expect(page.locator("#config-audit-table")).to_contain_text("otto")
    screenshot(page, "08-audit")
    page.goto("/virtual/")
    expect(page.locator("#virtual-table")).to_contain_text("Virtual AHU")
    screenshot(page, "09-virtual-list")
    page.goto("/virtual/new/")
    expect(page.locator("select[name=template]")).to_contain_text("hvac_controller")
    screenshot(page, "10-virtual-create")


def test_the_api_docs_render(page: Any, stack: Stack):
    sign_in(page, "otto")
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info")).to_contain_text("BMS API", timeout=30_000)
    screenshot(page, "11-api-docs")


def external_write(stack: Stack, object_ref: str, value: float) -> float:
    """Write like a third-party BACnet client would; returns when the write was acknowledged."""
    writer = run_external_writer(stack, object_ref, value)
    assert writer.returncode == 0, writer.stderr[-3000:]
    return float(writer.stdout.split()[-1])


def run_external_writer(
    stack: Stack, object_ref: str, value: float
) -> subprocess.CompletedProcess[str]:
    """The writer's run as it went: a refused write exits non-zero with the error on stderr."""
    return subprocess.run(
        [sys.executable, "-c", EXTERNAL_WRITER, str(stack.bacnet_port), object_ref, str(value)],
        cwd=ROOT,
        env=process_env(stack.database_url),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_an_open_page_catches_up_after_the_web_server_restarts(page: Any, stack: Stack):
    """An event sent while the page's socket is down is never delivered (a new web process
    starts reading after it); the page re-reads its live sections when it reconnects."""
    sign_in(page, "vera")
    page.goto("/virtual/2001/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    ((kind, instance),) = sql(
        stack.database_url,
        "SELECT object_type, instance FROM virtual_virtualobject WHERE name='Valve_Position'",
    )
    stack.stop_web()
    expect(page.locator("#live")).to_have_text("reconnecting")
    external_write(stack, f"{kind},{instance}", 64.0)
    stack.restart_web()
    expect(page.locator("#live")).to_have_text("live", timeout=15_000)
    row = page.locator(f"#object-table tr:has(td:text-is('{kind},{instance}'))")
    expect(row.locator("[data-value]")).to_have_text("64.00")
    assert page.evaluate("window.notReloaded") is True


def test_reloading_the_tokens_page_after_issuing_issues_no_second_token(page: Any, stack: Stack):
    sign_in(page, "vera")
    page.goto("/account/tokens/")
    page.fill("input[name=name]", "reload check")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#issued-token")).to_be_visible()
    expect(page).to_have_url("/account/tokens/")  # redirected: a reload is a GET
    page.reload()
    expect(page.locator("#issued-token")).to_have_count(0)  # shown once
    expect(page.locator("#token-table tr:has-text('reload check')")).to_have_count(1)


def test_discovery_refuses_a_bad_address_and_scans_again_when_asked(page: Any, stack: Stack):
    sign_in(page, "otto")
    form = page.locator("#discover-form")
    form.locator("input[name=address]").fill("127.0.0.300")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-status")).to_contain_text("bad BACnet address '127.0.0.300'")
    expect(form.locator(".form-status")).to_have_class("form-status bad")
    form.locator("input[name=address]").fill("")
    rows = page.locator("#task-table tbody tr")
    for force, result in [(True, r"^found 3 devices in \d+\.\d s$"), (False, r"^3 devices from a")]:
        form.locator("input[name=force]").set_checked(force)
        before = form.locator(".form-status").inner_text()
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-status")).not_to_have_text(before)
        expect(form.locator(".form-status")).to_contain_text("queued")
        task_id = re.search(r"task (\d+)", form.locator(".form-status").inner_text()).group(1)
        row = page.locator(f"#task-table tr[data-task-id='{task_id}']")
        expect(row.locator(".summary")).to_have_text(re.compile(result), timeout=20_000)
        expect(row.locator(".requester")).to_have_text("otto")
    assert "=" not in rows.first.inner_text()


def test_the_tasks_page_hides_scheduled_polls_live_unless_asked(page: Any, stack: Stack):
    sign_in(page, "otto")
    page.goto("/tasks/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    poll = manage(
        stack.database_url,
        "shell",
        "-c",
        "from bms.tasks import queue; "
        "print(queue.enqueue('collect', {'device_ids': None, 'scheduled': True}).id)",
    )
    assert poll.returncode == 0, poll.stderr
    poll_id = int(poll.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while sql(stack.database_url, "SELECT status FROM tasks_bacnettask WHERE id=%s", poll_id) != [
        ("completed",)
    ]:
        assert time.monotonic() < deadline, "the worker did not run the poll"
        time.sleep(0.2)
    time.sleep(0.5)  # its live messages have had time to arrive
    assert page.locator(f"#task-table tr[data-task-id='{poll_id}']").count() == 0
    assert page.evaluate("window.notReloaded") is True
    page.check("input[name=polls]")
    page.click(".filters button[type=submit]")
    row = page.locator(f"#task-table tr[data-task-id='{poll_id}']")
    expect(row.locator(".requester")).to_have_text("schedule")
    expect(row.locator(".summary")).to_have_text(re.compile(r"^read \d+ points from \d+ devices"))
    screenshot(page, "17-tasks-with-polls")


def test_the_device_lists_counts_follow_the_points_read(page: Any, stack: Stack):
    sign_in(page, "otto")
    if page.locator(f"#device-table a:text-is('{FIRST_INSTANCE + 2}')").count() == 0:
        discover(page)
    page.evaluate("window.notReloaded = true")
    device = page.locator(f"#device-table tr:has(a:text-is('{FIRST_INSTANCE + 2}'))")
    other = page.context.new_page()
    other.goto("/devices/")
    other.click(f"#device-table a:text-is('{FIRST_INSTANCE + 2}')")
    other.click("#read-points")
    expect(other.locator("#point-table tr[data-point-id]").first).to_be_visible(timeout=20_000)
    other.close()
    expect(device.locator("[data-points]")).not_to_have_text("0")
    cells = page.locator("#device-table tbody tr [data-points]").all_inner_texts()
    expect(page.locator("#point-total")).to_have_text(str(sum(int(c) for c in cells)))
    expect(page.locator("#device-count")).to_have_text(str(len(cells)))
    assert page.evaluate("window.notReloaded") is True


def test_a_filtered_devices_page_keeps_its_rows_when_a_device_it_hides_changes(
    page: Any, stack: Stack
):
    """The table is one page of what its filters find: a device event for a device it does not
    show sends the page to the server for its rows and counts, and adds no row of its own."""
    sign_in(page, "otto")
    if page.locator(f"#device-table a:text-is('{FIRST_INSTANCE + 1}')").count() == 0:
        discover(page)
    page.goto(f"/devices/?q=AHU+{FIRST_INSTANCE}")
    expect(page.locator("#live")).to_have_text("live")
    page.wait_for_load_state("networkidle")  # the re-read on the socket's open is done
    rows = page.locator("#device-table tr[data-device-id]")
    expect(rows).to_have_count(1)
    expect(page.locator("#device-count")).to_have_text("1")
    page.evaluate("window.notReloaded = true")
    other = page.context.new_page()
    other.goto("/devices/")
    other.click(f"#device-table a:text-is('{FIRST_INSTANCE + 1}')")
    with page.expect_response(
        lambda response: (
            f"q=AHU+{FIRST_INSTANCE}" in response.url and response.request.resource_type == "fetch"
        ),
        timeout=20_000,
    ):
        other.click("#read-points")  # its completion is the hidden device's event
    other.close()
    expect(rows).to_have_count(1)
    expect(rows.locator("a").first).to_have_text(str(FIRST_INSTANCE))
    expect(page.locator("#device-count")).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
