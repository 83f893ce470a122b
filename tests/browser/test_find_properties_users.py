"""In Chromium, against the real worker and the simulated building: the point page's property
browser read live through a task, finding points by search and tree, and an admin managing
users while the audit log shows configuration changes and sign-ins live."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.stack import FIRST_INSTANCE, PASSWORD, Stack
from tests.browser.test_browser import discover, sign_in
from tests.worker.conftest import manage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

FAN = "AHU Supply Fan Command"  # the simulated devices' commandable binary output


def open_device_points(page: Any) -> None:
    if page.locator(f"#device-table a:text-is('{FIRST_INSTANCE}')").count() == 0:
        discover(page)
    page.click(f"#device-table a:text-is('{FIRST_INSTANCE}')")
    if page.locator("#point-table tr[data-point-id]").count() == 0:
        page.click("#read-points")
    expect(page.locator("#point-table tr[data-object-type='binary-output']").first).to_be_visible(
        timeout=20_000
    )


def test_an_operator_reads_every_property_and_commands_from_the_point_page(page: Any, stack: Stack):
    sign_in(page, "otto")
    open_device_points(page)
    page.click("#point-table tr[data-object-type='binary-output'] a")
    expect(page.locator("#properties-read-at")).to_have_text("never read")
    page.evaluate("window.notReloaded = true")
    page.click("#read-all button[type=submit]")
    # The section swaps in by itself when the worker's task completes.
    expect(page.locator("#property-table tr[data-property='object-name']")).to_contain_text(
        FAN, timeout=20_000
    )
    expect(page.locator("#priority-array tbody tr")).to_have_count(16)
    expect(page.locator("#commanding")).to_contain_text("Relinquish default")
    page.select_option("#point-write select[name=value]", "active")
    page.fill("#point-write input[name=priority]", "7")
    page.click("#point-write button[type=submit]")
    expect(page.locator("#point-write .form-status")).to_contain_text("queued")
    expect(page.locator("#point-value [data-value]")).to_contain_text("active", timeout=15_000)
    page.click("#read-all button[type=submit]")
    winner = page.locator("#priority-array tr.wins")
    expect(winner).to_have_attribute("data-level", "7", timeout=20_000)
    expect(winner).to_contain_text("active")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "20-point-properties")


def test_points_are_found_by_search_and_by_tree(page: Any, stack: Stack):
    sign_in(page, "vera")
    page.goto("/points/?q=supply+fan")
    results = page.locator("#point-results tr[data-point-id]")
    expect(results.first).to_be_visible()
    assert all(
        FAN.lower() in text.lower() or "supply fan" in text.lower()
        for text in results.all_inner_texts()
    )
    page.click("#point-results th a:text('Name')")
    expect(page).to_have_url("/points/?q=supply+fan&sort=name")
    page.fill("#point-search input[name=q]", "no such point anywhere")
    page.click("#point-search button[type=submit]")
    expect(page.locator("#point-results")).to_contain_text("No point matches.")
    screenshot(page, "21-point-search")
    page.goto("/tree/")
    page.click(f"#tree a:has-text('▸ {FIRST_INSTANCE} ')")
    expect(page.locator("#tree li[data-point-id]").first).to_be_visible()
    page.click("#tree a:text('binary-output,1')")
    expect(page.locator("h1")).to_contain_text(FAN)


def test_an_admin_manages_users_and_the_audit_log_shows_it_live(
    browser: Any, page: Any, stack: Stack
):
    made = manage(
        stack.database_url,
        "bms_createuser",
        "--username",
        "ada",
        "--role",
        "admin",
        "--password",
        PASSWORD,
    )
    assert made.returncode == 0, made.stderr
    sign_in(page, "ada")
    audit = browser.new_context(base_url=stack.base_url).new_page()
    try:
        sign_in(audit, "ada")
        audit.goto("/audit/?kind=config")
        expect(audit.locator("#live")).to_have_text("live")
        page.click("header nav a:text('Users')")
        page.fill("#new-user input[name=username]", "nina")
        page.select_option("#new-user select[name=role]", "operator")
        page.fill("#new-user input[name=password]", "short")
        page.click("#new-user button[type=submit]")
        expect(page.locator("main")).to_contain_text("too short")
        page.go_back()
        page.fill("#new-user input[name=username]", "nina")
        page.select_option("#new-user select[name=role]", "operator")
        page.fill("#new-user input[name=password]", PASSWORD)
        page.click("#new-user button[type=submit]")
        expect(page.locator("#user-table tr[data-username='nina'] [data-field=role]")).to_have_text(
            "operator"
        )
        created = audit.locator("#config-audit-table tbody tr[data-action='user_created']").first
        expect(created).to_contain_text("user nina")
        page.click("#user-table a:text-is('nina')")
        page.select_option("#role-form select[name=role]", "viewer")
        page.click("#role-form button[type=submit]")
        expect(page.locator("#account-role")).to_have_text("viewer")
        changed = audit.locator("#config-audit-table tbody tr[data-action='user_changed']").first
        expect(changed).to_contain_text("role=operator")
        expect(changed).to_contain_text("role=viewer")
        screenshot(audit, "22-audit-configuration")
    finally:
        audit.context.close()
    sign_in_attempt = browser.new_context(base_url=stack.base_url).new_page()
    try:
        sign_in_attempt.goto("/accounts/login/")
        sign_in_attempt.fill("input[name=username]", "nina")
        sign_in_attempt.fill("input[name=password]", "wrong password")
        sign_in_attempt.click("button[type=submit]")
    finally:
        sign_in_attempt.context.close()
    page.goto("/audit/?kind=config&action=sign_in_failed")
    expect(page.locator("#config-audit-table tbody tr").first).to_contain_text("nina")


def test_viewers_do_not_reach_user_management(page: Any, stack: Stack):
    sign_in(page, "vera")
    assert page.locator("header nav a:text('Users')").count() == 0
    response = page.goto("/users/")
    assert response is not None
    assert response.status == 403
