"""POST /api/virtual-objects/{pk}/command: operators command virtual objects; bad input is a 4xx
that says what was wrong and changes nothing; viewers get 403."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bms.devices.models import BACnetReading, WriteAudit
from bms.virtual.models import VirtualObject
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db


def obj(name: str) -> VirtualObject:
    return VirtualObject.objects.get(device__device_id=2001, name=name)


def url(name: str) -> str:
    return f"/api/virtual-objects/{obj(name).pk}/command"


def test_an_operator_commands_an_output_and_gets_the_new_state(client, building, operator_token):
    response = call(
        client, "post", url("Damper_Position"), operator_token, {"value": 42.5, "priority": 8}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["present_value"], body["priority"]) == (42.5, 8)
    assert body["priority_array"] == [None] * 7 + [42.5] + [None] * 8
    assert obj("Damper_Position").present_value == 42.5
    audit = WriteAudit.objects.get(virtual_object=obj("Damper_Position"))
    assert (audit.source, audit.who, audit.new_value, audit.accepted) == ("api", "otto", 42.5, True)


def test_relinquish_returns_to_the_next_priority_or_the_default(client, building, operator_token):
    call(client, "post", url("Mode"), operator_token, {"value": 4, "priority": 10})
    call(client, "post", url("Mode"), operator_token, {"value": 2, "priority": 3})
    response = call(
        client, "post", url("Mode"), operator_token, {"priority": 3, "relinquish": True}
    )
    assert response.status_code == 200
    assert response.json()["present_value"] == 4
    response = call(
        client, "post", url("Mode"), operator_token, {"priority": 10, "relinquish": True}
    )
    assert response.json()["present_value"] == 1  # the template's relinquish default
    assert response.json()["priority_array"] == [None] * 16


def test_binary_aliases_and_the_default_priority(client, building, operator_token):
    response = call(client, "post", url("Enable"), operator_token, {"value": True})
    assert response.status_code == 200
    assert (response.json()["present_value"], response.json()["priority"]) == ("active", 16)
    assert response.json()["priority_array"][15] == "active"


def test_an_input_takes_a_plain_value(client, building, operator_token):
    response = call(client, "post", url("Return_Air_Temperature"), operator_token, {"value": 23.5})
    assert response.status_code == 200
    assert (
        response.json()["present_value"],
        response.json()["priority"],
        response.json()["priority_array"],
    ) == (23.5, None, None)


@pytest.mark.parametrize(
    ("name", "body", "status", "words"),
    [
        ("Damper_Position", {"value": 150, "priority": 8}, 400, "out of range"),
        ("Damper_Position", {"value": "lots", "priority": 8}, 400, "finite number"),
        ("Damper_Position", {"priority": 8}, 400, "a value is required"),
        ("Damper_Position", {"value": 5, "priority": 0}, 400, "priority must be 1..16"),
        ("Damper_Position", {"value": 5, "priority": 8, "relinquish": True}, 400, "send no value"),
        ("Enable", {"value": "maybe"}, 400, '"active" or "inactive"'),
        ("Mode", {"value": 9, "priority": 8}, 400, "state number 1..5"),
        ("Return_Air_Temperature", {"value": 20, "priority": 8}, 400, "is an input"),
        ("Damper_Position", {"value": [1, 2], "priority": 8}, 422, "value"),
        ("Damper_Position", {"value": 5, "priority": "high"}, 422, "priority"),
    ],
)
def test_bad_commands_are_refused_with_a_reason_and_change_nothing(
    client, building, operator_token, name, body, status, words
):
    before = obj(name)
    response = call(client, "post", url(name), operator_token, body)
    assert response.status_code == status, response.content
    message = response.json()["detail" if status == 400 else "message"]
    assert words in message
    after = obj(name)
    assert (after.present_value, after.priority_array, after.updated_at) == (
        before.present_value,
        before.priority_array,
        before.updated_at,
    )
    assert not BACnetReading.objects.filter(virtual_object=after).exists()
    refused = WriteAudit.objects.filter(virtual_object=after, accepted=False)
    # Refusals the service judged are audited; malformed JSON never reached it.
    assert refused.count() == (1 if status == 400 else 0)


def test_viewers_get_403_and_nothing_changes(client, building, viewer_token):
    response = call(
        client, "post", url("Damper_Position"), viewer_token, {"value": 50, "priority": 8}
    )
    assert response.status_code == 403
    assert "operator role" in response.json()["detail"]
    assert obj("Damper_Position").present_value == 0.0
    assert not WriteAudit.objects.filter(virtual_object=obj("Damper_Position")).exists()


def test_unknown_objects_and_anonymous_callers(client, building, operator_token):
    missing = call(
        client, "post", "/api/virtual-objects/999999/command", operator_token, {"value": 1}
    )
    assert missing.status_code == 404
    assert "no virtual object" in missing.json()["detail"]
    anonymous: Any = client.post(
        url("Damper_Position"), data=json.dumps({"value": 1}), content_type="application/json"
    )
    assert anonymous.status_code == 401
    assert obj("Damper_Position").present_value == 0.0
