"""In Chromium, against the real worker: an operator commands virtual objects from the virtual
device page, the row updates without a reload, and a separate BACnet client reads the commanded
value from the BMS device (8888) within a few seconds, because the worker applied the row. The
audit log and a virtual object's trend follow commands and external writes without a reload."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import Stack
from tests.browser.test_browser import external_write, run_external_writer, sign_in
from tests.worker.conftest import ROOT, process_env, sql

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
# A live update's way to the open page (worker or web, the channel layer, the socket); each wait
# returns as soon as it is there: the bound is for a loaded machine.
LIVE_MS = 15_000

# The worker applies a commanded row to its BACnet device at its next sync, every 2 s
# (runtime.WorkerOptions.virtual_sync_interval); nothing else applies it. The bound tells "applied
# by a sync" from "not applied", with room for a loaded machine.
APPLIED_WITHIN_SECONDS = 15.0
# The reader's own start (a Python process that imports bacpypes3 and opens a device), which its
# count of seconds leaves out.
READER_START_SECONDS = 15.0

# Polls the BMS device's object until its present value and priority-array[8] are the expected
# value; prints the seconds that took, or fails after the deadline with what it last read.
BACNET_READER = """
import asyncio, sys, time
from bacpypes3.pdu import Address
from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application

port, obj, want, within = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])

async def main():
    app = await open_application(EngineConfig(address=f"127.0.0.11/8:{port}",
                                              device_instance=5011, device_name="reader"))
    try:
        bms = Address(f"127.0.0.1:{port}")
        started = time.monotonic()
        while True:
            value = float(await app.read_property(bms, obj, "present-value"))
            level8 = await app.read_property(bms, obj, "priority-array", array_index=8)
            if value == want and getattr(level8, "real", None) == want:
                print(f"applied {time.monotonic() - started:.2f}", flush=True)
                return
            if time.monotonic() - started > within:
                sys.exit(f"still present-value={value}, priority-array[8]={level8}")
            await asyncio.sleep(0.2)
    finally:
        close_application(app)

asyncio.run(asyncio.wait_for(main(), 30))
"""


def object_row(page: Any, stack: Stack, name: str) -> tuple[Any, str]:
    ((pk, kind, instance),) = sql(
        stack.database_url,
        "SELECT id, object_type, instance FROM virtual_virtualobject WHERE name=%s",
        name,
    )
    return page.locator(f"#object-table tr[data-object-id='{pk}']"), f"{kind},{instance}"


def command(row: Any, value: str, priority: str, relinquish: bool = False) -> None:
    """Submit a commandable object's row form and wait for the page's answer."""
    row.locator("input[name=value]").fill(value)
    row.locator("input[name=priority]").fill(priority)
    row.locator("input[name=relinquish]").set_checked(relinquish)
    row.locator("button[type=submit]").click()
    expect(row.locator(".form-status")).to_contain_text(
        f"priority {priority} relinquished" if relinquish else f"commanded at priority {priority}"
    )


def read_over_bacnet(stack: Stack, object_ref: str, want: float) -> float:
    """Seconds until a third-party BACnet client reads `want` at priority 8 on device 8888."""
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            BACNET_READER,
            str(stack.bacnet_port),
            object_ref,
            str(want),
            str(APPLIED_WITHIN_SECONDS),
        ],
        cwd=ROOT,
        env=process_env(stack.database_url),
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
    )
    assert reader.returncode == 0, reader.stderr[-3000:]
    return float(reader.stdout.split()[-1])


def test_an_operator_commands_a_virtual_output_and_bacnet_clients_read_it(page: Any, stack: Stack):
    sign_in(page, "otto")
    page.goto("/virtual/2001/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    row, object_ref = object_row(page, stack, "Damper_Position")
    row.locator("input[name=value]").fill("77.5")
    row.locator("input[name=priority]").fill("8")
    row.locator("button[type=submit]").click()
    commanded = time.monotonic()
    expect(row.locator(".form-status")).to_have_text(
        "Damper_Position: commanded at priority 8, now 77.50"
    )
    expect(row.locator("[data-value]")).to_have_text("77.50")
    expect(row.locator("[data-priorities]")).to_contain_text("8 77.50")

    seconds = read_over_bacnet(stack, object_ref, 77.5)
    assert time.monotonic() - commanded < APPLIED_WITHIN_SECONDS + READER_START_SECONDS
    assert seconds < APPLIED_WITHIN_SECONDS

    # A multi-state value through its select: the row shows the state's text.
    mode, _ = object_row(page, stack, "Mode")
    mode.locator("select[name=value]").select_option(label="3 · Cooling")
    mode.locator("input[name=priority]").fill("10")
    mode.locator("button[type=submit]").click()
    expect(mode.locator("[data-value]")).to_have_text("3 · Cooling")
    expect(mode.locator("[data-priorities]")).to_contain_text("10 3 · Cooling")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "12-virtual-after-operator-command")

    audit = sql(
        stack.database_url,
        "SELECT who, source, new_value, priority, accepted FROM "
        "devices_writeaudit WHERE virtual_object_id IS NOT NULL ORDER BY id",
    )
    assert [
        (who, source, float(value), priority, bool(ok))
        for who, source, value, priority, ok in audit
    ] == [("otto", "operator", 77.5, 8, True), ("otto", "operator", 3.0, 10, True)]


def test_a_refused_command_says_why_on_the_page_and_changes_nothing(page: Any, stack: Stack):
    sign_in(page, "otto")
    page.goto("/virtual/2001/")
    row, _ = object_row(page, stack, "Valve_Position")
    before = row.locator("[data-value]").text_content()
    row.locator("input[name=value]").fill("150")
    row.locator("button[type=submit]").click()
    expect(row.locator(".form-status")).to_have_text(
        "150 is out of range: Valve_Position takes 0..100"
    )
    expect(row.locator(".form-status")).to_have_class("form-status bad")
    page.reload()
    expect(row.locator("[data-value]")).to_have_text(before or "")


def test_viewers_see_state_texts_but_no_command_forms(page: Any, stack: Stack):
    sign_in(page, "vera")
    page.goto("/virtual/2001/")
    enable, _ = object_row(page, stack, "Enable")
    expect(enable.locator("[data-value]")).to_have_text("inactive (Disabled)")
    assert page.locator("#object-table form").count() == 0


def audit_cells(page: Any, rows: int) -> list[list[str]]:
    """The top rows of the audit table, each cell's text but the time's."""
    return [
        page.locator("#audit-table tbody tr").nth(n).locator("td").all_inner_texts()[1:]
        for n in range(rows)
    ]


def test_the_audit_log_shows_new_writes_live_as_a_reload_shows_them(page: Any, stack: Stack):
    """An operator's command, an accepted and a refused external write arrive on top of the open
    audit log, rendered as the server renders the same rows after a reload."""
    sign_in(page, "otto")
    page.goto("/audit/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    top = page.locator("#audit-table tbody tr").first.locator("td")

    commands = page.context.new_page()
    commands.goto("/virtual/2001/")
    valve, valve_ref = object_row(commands, stack, "Valve_Position")
    command(valve, "33", "9")
    commands.close()
    expect(top.nth(6)).to_have_text("33.00", timeout=LIVE_MS)

    _damper, damper_ref = object_row(page, stack, "Damper_Position")
    external_write(stack, damper_ref, 35.0)
    writer = f"127.0.0.9:{stack.bacnet_port}"
    expect(top.nth(2)).to_have_text(writer, timeout=LIVE_MS)
    refused = run_external_writer(stack, valve_ref, 150.0)
    assert refused.returncode != 0
    assert "value-out-of-range" in refused.stderr
    expect(top.nth(8)).to_have_text("refused property: value-out-of-range", timeout=LIVE_MS)

    live = audit_cells(page, 3)  # source, who, object, property, old, new, priority, result
    assert [cells[-1].split()[0] for cells in live] == ["refused", "accepted", "accepted"]
    assert live[0][:4] == ["BACnet", writer, valve_ref, "present-value"]
    assert live[1][:3] == ["BACnet", writer, damper_ref]
    assert live[1][5:7] == ["35.00", "8"]
    assert live[2][:3] == ["Operator", "otto", valve_ref]
    assert live[2][5:7] == ["33.00", "9"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", top.first.inner_text())
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "13-audit-live")
    page.reload()
    assert audit_cells(page, 3) == live


def test_a_virtual_objects_trend_grows_with_external_writes(page: Any, stack: Stack):
    sign_in(page, "vera")
    page.goto("/virtual/2001/")
    row, damper_ref = object_row(page, stack, "Damper_Position")
    row.locator("a").click()  # the BACnet name leads to the object's page
    expect(page.locator("#trend-count")).to_contain_text("reading")
    expect(page.locator("#live")).to_have_text("live")
    trend = page.locator("#trend")
    before = int(trend.get_attribute("data-points"))
    label = page.locator("#trend-count")
    readings = int(re.findall(r"\d+", label.inner_text())[-1])
    external_write(stack, damper_ref, 12.5)
    expect(trend).to_have_attribute("data-points", str(before + 1), timeout=LIVE_MS)
    expect(page.locator("#object-value")).to_have_text("12.50")
    expect(label).to_have_text(re.compile(rf"\b{readings + 1} readings$"))  # counted live too
    screenshot(page, "14-virtual-object-trend")


def test_a_virtual_objects_trend_grows_with_commands_and_their_relinquish(page: Any, stack: Stack):
    """An operator's command and its relinquish, from another page, each add the reading they
    stored to the object's open trend, without a reload."""
    sign_in(page, "otto")
    page.goto("/virtual/2001/")
    row, _ref = object_row(page, stack, "Supply_Air_Setpoint")
    row.locator("a").click()
    expect(page.locator("#trend-count")).to_contain_text("reading")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    trend = page.locator("#trend")
    before = int(trend.get_attribute("data-points"))

    commands = page.context.new_page()
    commands.goto("/virtual/2001/")
    setpoint, _ = object_row(commands, stack, "Supply_Air_Setpoint")
    command(setpoint, "21.5", "9")
    expect(trend).to_have_attribute("data-points", str(before + 1), timeout=LIVE_MS)
    expect(page.locator("#object-value")).to_have_text("21.50")

    command(setpoint, "", "9", relinquish=True)
    commands.close()
    expect(trend).to_have_attribute("data-points", str(before + 2), timeout=LIVE_MS)
    expect(page.locator("#object-value")).to_have_text("14.00")  # the relinquish default
    # The newest point is the command's 21.5, highest on the chart; the relinquish's 14 below it.
    values = page.evaluate("document.getElementById('trend').trend.values()[0]")
    assert values[-2:] == [21.5, 14.0]
    assert values[-2] == max(values)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "15-virtual-object-trend-commands")


def cells_of(row: Any) -> list[str]:
    """A write-log row's cells after its time columns. innerText of the same cell may end in a
    newline or not depending on when layout last ran (a full run once saw 'refused ...\n' live
    and no newline after the reload): the words are compared, not the layout."""
    return [text.strip() for text in row.locator("td").all_inner_texts()[2:]]


def test_refused_external_writes_show_as_refused_with_the_reason_live(page: Any, stack: Stack):
    """150 and -5 to a 0..100 output and a write to an input are refused by device 8888: the
    virtual device page lists them as refused, with the reason, as they happen and on reload."""
    sign_in(page, "vera")
    page.goto("/virtual/2001/")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    _valve, valve_ref = object_row(page, stack, "Valve_Position")
    _supply, supply_ref = object_row(page, stack, "Supply_Air_Temperature")
    writes = [(valve_ref, 150.0), (valve_ref, -5.0), (supply_ref, 20.0)]
    for object_ref, value in writes:
        refused = run_external_writer(stack, object_ref, value)
        assert refused.returncode != 0, f"{object_ref} took {value}"
    top = page.locator("#write-log tbody tr")
    expect(top.first.locator("td").nth(2)).to_have_text(supply_ref, timeout=LIVE_MS)
    live = [cells_of(top.nth(n)) for n in range(3)]
    assert [cells[0] for cells in live] == [supply_ref, valve_ref, valve_ref]
    assert [float(cells[2]) for cells in live] == [20.0, -5.0, 150.0]  # the value as sent
    assert all(cells[-1].startswith("refused ") for cells in live), live
    assert "value-out-of-range" in live[1][-1]
    assert "value-out-of-range" in live[2][-1]
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "16-virtual-refused-writes")
    page.reload()
    assert [cells_of(top.nth(n)) for n in range(3)] == live
