"""Commanding virtual objects from the virtual device page: the forms operators see, the state
texts everyone sees, and the command view's answers (JSON for fetch, a page without JS)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from bms.devices.models import WriteAudit
from bms.virtual.models import VirtualObject

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def obj(name: str) -> VirtualObject:
    return VirtualObject.objects.get(device__device_id=2001, name=name)


def command_url(name: str) -> str:
    return reverse("web:virtual_command", args=[obj(name).pk])


def row_html(page: str, name: str) -> str:
    match = re.search(rf'<tr data-object-id="{obj(name).pk}".*?</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_operators_see_a_command_form_fitting_each_object(operator_client, building):
    page = operator_client.get(reverse("web:virtual", args=[2001])).content.decode()
    damper = row_html(page, "Damper_Position")
    assert f'action="{command_url("Damper_Position")}"' in damper
    assert 'placeholder="0–100"' in damper  # noqa: RUF001 - the page writes a range with an en dash
    assert 'name="priority"' in damper
    assert 'name="relinquish"' in damper
    enable = row_html(page, "Enable")
    assert '<option value="active" >active (Enabled)</option>' in enable
    assert '<option value="inactive" selected>inactive (Disabled)</option>' in enable
    mode = row_html(page, "Mode")
    assert '<option value="1" selected>1 · Off</option>' in mode
    assert '<option value="5" >5 · Auto</option>' in mode
    supply = row_html(page, "Supply_Air_Temperature")  # an input: a value, no priority
    assert "<form" in supply
    assert 'name="priority"' not in supply
    assert 'name="relinquish"' not in supply


def test_viewers_see_state_texts_and_no_command_forms(viewer_client, building):
    page = viewer_client.get(reverse("web:virtual", args=[2001])).content.decode()
    assert "web:virtual_command" not in page
    assert "/command/" not in page
    assert "<th>Command</th>" not in page
    assert "inactive (Disabled)" in row_html(page, "Enable")
    assert "1 · Off" in row_html(page, "Mode")


def test_the_page_shows_commanded_levels_with_their_state_texts(operator_client, building):
    operator_client.post(command_url("Mode"), {"value": "3", "priority": "8"}, **JSON)
    page = operator_client.get(reverse("web:virtual", args=[2001])).content.decode()
    mode = row_html(page, "Mode")
    assert '<td class="num value" data-value>3 · Cooling</td>' in mode
    assert '<span class="prio"><b>8</b> 3 · Cooling</span>' in mode


def test_an_operator_commands_an_output_and_gets_json_for_the_page(operator_client, building):
    response = operator_client.post(
        command_url("Damper_Position"), {"value": "42.5", "priority": "8"}, **JSON
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] == "Damper_Position: commanded at priority 8, now 42.50"
    assert body["present_value"] == 42.5
    assert body["priority_array"][7] == 42.5
    audit = WriteAudit.objects.get(virtual_object=obj("Damper_Position"))
    assert (audit.source, audit.who, audit.priority, audit.accepted) == (
        "operator",
        "otto",
        8,
        True,
    )


def test_relinquish_ignores_the_value_the_select_still_holds(operator_client, building):
    operator_client.post(command_url("Enable"), {"value": "active", "priority": "8"}, **JSON)
    response = operator_client.post(
        command_url("Enable"), {"value": "active", "priority": "8", "relinquish": "on"}, **JSON
    )
    assert response.status_code == 200
    assert response.json()["message"] == (
        "Enable: priority 8 relinquished, now inactive (Disabled)"
    )
    assert obj("Enable").priority_array == [None] * 16


def test_an_input_is_set_without_a_priority(operator_client, building):
    response = operator_client.post(command_url("Supply_Air_Temperature"), {"value": "15"}, **JSON)
    assert response.status_code == 200
    assert response.json()["message"] == "Supply_Air_Temperature set to 15.00"
    assert obj("Supply_Air_Temperature").present_value == 15.0


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("Damper_Position", {"value": "120", "priority": "8"}, "out of range"),
        ("Damper_Position", {"value": "12", "priority": "20"}, "priority must be 1..16"),
        ("Damper_Position", {"value": "12", "priority": "x"}, "priority: Enter a whole number"),
        ("Mode", {"value": "7", "priority": "8"}, "state number 1..5"),
    ],
)
def test_bad_commands_get_400_with_the_reason_and_change_nothing(
    operator_client, building, name, data, words
):
    before = obj(name)
    response = operator_client.post(command_url(name), data, **JSON)
    assert response.status_code == 400
    assert words in response.json()["error"]
    after = obj(name)
    assert (after.present_value, after.priority_array, after.updated_at) == (
        before.present_value,
        before.priority_array,
        before.updated_at,
    )


def test_a_form_posted_without_js_redirects_back_with_a_message(operator_client, building):
    response = operator_client.post(
        command_url("Valve_Position"), {"value": "30", "priority": "8"}, follow=True
    )
    assert response.redirect_chain == [(reverse("web:virtual", args=[2001]), 302)]
    assert b"Valve_Position: commanded at priority 8, now 30.00" in response.content
    refused = operator_client.post(command_url("Valve_Position"), {"value": "300", "priority": "8"})
    assert refused.status_code == 400
    assert b"out of range" in refused.content


def test_viewers_get_403_and_nothing_changes(viewer_client, building):
    response = viewer_client.post(
        command_url("Damper_Position"), {"value": "50", "priority": "8"}, **JSON
    )
    assert response.status_code == 403
    assert obj("Damper_Position").present_value == 0.0
    assert not WriteAudit.objects.filter(virtual_object=obj("Damper_Position")).exists()
    assert viewer_client.get(command_url("Damper_Position")).status_code == 405


def test_an_empty_priority_commands_at_the_configured_default_and_audits_it(
    operator_client, building, settings
):
    settings.BACNET_DEFAULT_WRITE_PRIORITY = 12
    page = operator_client.get(reverse("web:virtual", args=[2001])).content.decode()
    assert 'value="12" placeholder="12"' in row_html(page, "Damper_Position")
    response = operator_client.post(
        command_url("Damper_Position"), {"value": "42.5", "priority": ""}, **JSON
    )
    assert response.json()["message"] == "Damper_Position: commanded at priority 12, now 42.50"
    assert obj("Damper_Position").priority_array[11] == 42.5
    audit = WriteAudit.objects.filter(source="operator").latest("id")
    assert (audit.priority, audit.accepted) == (12, True)
