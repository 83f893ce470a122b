"""Chromium drives the week-grid editor of a schedule of device 8888 (the stack's 'Lobby
lights', made by tests/browser/stack.py): an operator adds an entry on Monday, saves, and sees
it read back from the server with its audit row."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_browser import sign_in


def test_an_operator_adds_an_entry_saves_and_sees_it_read_back_with_its_audit(page: Any) -> None:
    sign_in(page, "otto")
    page.goto("/schedules/")
    page.click("text=Lobby lights")
    monday = page.locator("fieldset.day[data-day='0']")
    expect(monday.locator("tr.entry")).to_have_count(0)

    monday.locator("button.add-entry").click()
    monday.locator("input[name='time-0']").fill("07:30:00")
    monday.locator("select[name='value-0']").select_option("active")
    page.click("#week-form button[type=submit]")

    expect(page.locator(".msg")).to_contain_text("Saved the week")
    saved = page.locator("fieldset.day[data-day='0'] tr.entry")
    expect(saved).to_have_count(1)
    expect(saved.locator("input[name='time-0']")).to_have_value("07:30:00")
    expect(saved.locator("select[name='value-0']")).to_have_value("active")
    audit = page.locator("#schedule-audit tbody tr").first
    expect(audit).to_contain_text("otto")
    expect(audit).to_contain_text("weekly-schedule")
    expect(audit).to_contain_text("accepted")
    screenshot(page, "schedule-week-grid")


def test_a_row_removed_before_saving_is_not_saved_and_a_bad_week_shows_its_error(
    page: Any,
) -> None:
    sign_in(page, "otto")
    page.goto("/schedules/1/")
    tuesday = page.locator("fieldset.day[data-day='1']")
    for time in ("18:00:00", "08:00:00"):  # out of order on purpose
        tuesday.locator("button.add-entry").click()
        tuesday.locator("input[name='time-1']").last.fill(time)
    page.click("#week-form button[type=submit]")

    expect(page.locator("#schedule-error")).to_contain_text("out of order")
    tuesday = page.locator("fieldset.day[data-day='1']")
    tuesday.locator("button.remove-entry").last.click()
    expect(tuesday.locator("tr.entry")).to_have_count(1)
    page.click("#week-form button[type=submit]")

    expect(page.locator(".msg")).to_contain_text("Saved the week")
    expect(page.locator("fieldset.day[data-day='1'] tr.entry")).to_have_count(1)


def test_an_operator_creates_a_schedule_from_the_list_and_deletes_it_after_confirming(
    page: Any,
) -> None:
    sign_in(page, "otto")
    page.goto("/schedules/")
    form = page.locator("#schedule-create")
    form.locator("input[name=name]").fill("Fan nights")
    form.locator("select[name=kind]").select_option("binary")
    form.locator("input[name=schedule_default]").fill("inactive")
    fan = form.locator("select[name=targets] option", has_text="(binary-value,1)")
    form.locator("select[name=targets]").select_option(fan.get_attribute("value"))
    form.locator("button[type=submit]").click()

    expect(page.locator("h1")).to_contain_text("Fan nights")
    expect(page.locator(".msg")).to_contain_text("Created schedule,")
    screenshot(page, "schedule-settings")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#schedule-delete button[type=submit]")

    expect(page.locator(".msg")).to_contain_text("relinquished at priority 16")
    expect(page.locator("#schedules")).not_to_contain_text("Fan nights")
