"""The trend chart (uPlot) in Chromium against the real product: a day of a virtual object's
history drawn, zoomed by dragging (the zoomed range fetched again at a finer level), a second
object added on its own axis, and the CSV export holding exactly what the chart shows."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import Stack
from tests.browser.test_browser import sign_in
from tests.worker.conftest import sql


def seed_day(stack: Stack, name: str, value: Any, now: datetime) -> int:
    """A reading a minute for the 24 hours before `now`, written as the worker writes them."""
    ((pk,),) = sql(stack.database_url, "SELECT id FROM virtual_virtualobject WHERE name=%s", name)
    rows = [
        (pk, str(value(minute)), (now - timedelta(minutes=minute)).isoformat(sep=" "))
        for minute in range(1, 24 * 60 + 1)
    ]
    with sqlite3.connect(stack.database_url.removeprefix("sqlite:///")) as db:
        db.executemany(
            "INSERT INTO devices_bacnetreading (virtual_object_id, value, timestamp, source) "
            "VALUES (?, ?, ?, 'operator_write')",
            rows,
        )
    return pk


def shown_range(page: Any) -> tuple[datetime, datetime]:
    trend = page.locator("#trend")
    start, end = trend.get_attribute("data-start"), trend.get_attribute("data-end")
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def test_zoom_two_objects_and_the_csv_of_what_is_shown(page: Any, stack: Stack, tmp_path: Any):
    now = datetime.now(UTC).replace(tzinfo=None)  # both at the same times: one CSV row each
    supply = seed_day(stack, "Supply_Air_Temperature", lambda m: 18 + (m % 60) / 10, now)
    seed_day(stack, "Damper_Position", lambda m: float(m % 100), now)
    sign_in(page, "vera")
    page.goto(f"/virtual/objects/{supply}/")
    trend = page.locator("#trend")
    page.click("#trend-ranges button:text-is('24 h')")
    expect(trend.locator("canvas")).to_be_attached()
    expect(page.locator("#trend-count")).to_contain_text("buckets")  # 1,440 readings > width
    start, end = shown_range(page)
    assert end - start == timedelta(hours=24)

    # Zoom: drag across the middle fifth of the plot.
    over = page.locator("#trend .u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    expect(trend).not_to_have_attribute("data-start", start.isoformat().replace("+00:00", "Z"))
    page.wait_for_function(
        "() => { const t = document.getElementById('trend');"
        " return new Date(t.dataset.end) - new Date(t.dataset.start) < 6 * 3600e3; }"
    )
    zoom_start, zoom_end = shown_range(page)
    assert start < zoom_start < zoom_end < end
    assert timedelta(hours=3) < zoom_end - zoom_start < timedelta(hours=6)
    expect(page.locator("#trend-count")).not_to_contain_text("buckets")  # raw readings now

    # A second object on the same chart, on its own axis.
    page.select_option("#trend-add", label="Damper_Position")
    expect(page.locator("#trend .u-legend .u-series")).to_have_count(3)  # time + two
    expect(page.locator("#trend .u-legend")).to_contain_text("Damper_Position (%)")
    expect(page.locator("#trend .u-legend")).to_contain_text("Supply_Air_Temperature (°C)")
    page.wait_for_function("() => document.getElementById('trend').trend.values()[1].length > 0")
    screenshot(page, "17-trend-two-objects-zoomed")

    with page.expect_download() as download:
        page.click("#trend-export")
    path = tmp_path / "trend.csv"
    download.value.save_as(path)
    with path.open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["time", "Supply_Air_Temperature (°C)", "Damper_Position (%)"]
    times = [datetime.fromisoformat(row[0]) for row in rows[1:]]
    assert times
    assert all(zoom_start <= t <= zoom_end for t in times)
    # Every minute of the shown range, both columns filled: what the chart shows, no more.
    assert len(times) == pytest.approx((zoom_end - zoom_start) / timedelta(minutes=1), abs=2)
    assert all(row[1] and row[2] for row in rows[1:])
