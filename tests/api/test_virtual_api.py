"""Virtual devices and objects over the API: create, read, update, delete."""

from __future__ import annotations

import json

import pytest

from bms.virtual.models import VirtualBACnetDevice, VirtualObject

pytestmark = pytest.mark.django_db


def call(client, method: str, url: str, token: str, body: object = None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


def test_create_read_update_delete_a_virtual_device(client, db, operator_token):
    created = call(
        client,
        "post",
        "/api/virtual-devices",
        operator_token,
        {"device_id": 5001, "device_name": "HVAC 5", "template": "hvac_controller"},
    )
    assert created.status_code == 201
    assert [o["name"] for o in created.json()["objects"]] == ["Temperature_Setpoint", "Fan_Control"]
    read = call(client, "get", "/api/virtual-devices/5001", operator_token).json()
    assert read["device_name"] == "HVAC 5"
    assert read["is_running"] is True
    patched = call(
        client,
        "patch",
        "/api/virtual-devices/5001",
        operator_token,
        {"is_running": False, "device_name": "HVAC five"},
    )
    assert patched.status_code == 200
    assert patched.json()["is_running"] is False
    assert call(client, "delete", "/api/virtual-devices/5001", operator_token).status_code == 204
    assert not VirtualBACnetDevice.objects.exists()
    assert not VirtualObject.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"device_id": 2001, "device_name": "dup", "template": "hvac_controller"},
            409,
            "already exists",
        ),
        ({"device_id": 6001, "device_name": "x", "template": "toaster"}, 400, "unknown template"),
        ({"device_id": -1, "device_name": "x"}, 422, "device_id"),
        ({"device_id": "abc", "device_name": "x"}, 422, "device_id"),
        ({"device_id": 6001, "device_name": ""}, 422, "device_name"),
    ],
)
def test_bad_virtual_devices_are_refused(client, building, operator_token, body, status, words):
    response = call(client, "post", "/api/virtual-devices", operator_token, body)
    assert response.status_code == status, response.content
    assert words in json.dumps(response.json())
    assert VirtualBACnetDevice.objects.count() == 1


def test_patch_refuses_null_and_unknown_devices(client, building, operator_token):
    assert (
        call(
            client, "patch", "/api/virtual-devices/2001", operator_token, {"is_running": None}
        ).status_code
        == 422
    )
    assert (
        call(
            client, "patch", "/api/virtual-devices/9", operator_token, {"is_running": True}
        ).status_code
        == 404
    )


def test_viewers_cannot_change_virtual_devices(client, building, viewer_token):
    assert (
        call(
            client,
            "post",
            "/api/virtual-devices",
            viewer_token,
            {"device_id": 6001, "device_name": "x"},
        ).status_code
        == 403
    )
    assert (
        call(
            client, "patch", "/api/virtual-devices/2001", viewer_token, {"is_running": False}
        ).status_code
        == 403
    )
    assert call(client, "delete", "/api/virtual-devices/2001", viewer_token).status_code == 403
    assert VirtualBACnetDevice.objects.get(device_id=2001).is_running


def test_objects_can_be_added_edited_and_removed(client, building, operator_token):
    created = call(
        client,
        "post",
        "/api/virtual-devices/2001/objects",
        operator_token,
        {
            "object_type": "analog-value",
            "name": "Extra_Setpoint",
            "units": "percent",
            "present_value": 12.5,
        },
    )
    assert created.status_code == 201, created.content
    obj = created.json()
    assert obj["commandable"]
    assert obj["priority_array"] == [None] * 16
    assert obj["relinquish_default"] == 12.5
    url = f"/api/virtual-objects/{obj['id']}"
    patched = call(
        client, "patch", url, operator_token, {"description": "spare", "out_of_service": True}
    )
    assert patched.json()["description"] == "spare"
    assert patched.json()["out_of_service"]
    listed = call(client, "get", "/api/virtual-devices/2001/objects", operator_token).json()
    assert obj["id"] in [o["id"] for o in listed]
    assert call(client, "delete", url, operator_token).status_code == 204
    assert not VirtualObject.objects.filter(id=obj["id"]).exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"object_type": "toaster", "name": "T"}, 400),
        ({"object_type": "analog-value", "name": "Has space"}, 422),
        ({"object_type": "binary-value", "name": "B", "present_value": 3}, 400),
        ({"object_type": "analog-value", "name": "Supply_Air_Setpoint"}, 409),
    ],
)
def test_bad_objects_are_refused(client, building, operator_token, body, status):
    before = VirtualObject.objects.count()
    response = call(client, "post", "/api/virtual-devices/2001/objects", operator_token, body)
    assert response.status_code == status, response.content
    assert response.json()["detail"]
    assert VirtualObject.objects.count() == before


# Issue 10: objects the worker would refuse to serve were stored with 201/200 and never appeared.
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"object_type": "analog-value", "name": "A", "min_value": 10, "max_value": 0},
            "min_value 10 is above max_value 0",
        ),
        ({"object_type": "multi-state-value", "name": "M"}, "needs state_texts"),
        ({"object_type": "analog-value", "name": "A", "cov_increment": -1}, "cov_increment"),
        (
            {"object_type": "analog-value", "name": "A", "max_value": 10, "present_value": 20},
            "20 is out of range: Virtual_2001_A takes at most 10",
        ),
        (
            {
                "object_type": "multi-state-input",
                "name": "M",
                "state_texts": ["a"],
                "present_value": 2,
            },
            "1..1",
        ),
    ],
)
def test_an_object_the_worker_could_not_serve_is_400_and_not_stored(
    client, building, operator_token, body, words
):
    before = VirtualObject.objects.count()
    response = call(client, "post", "/api/virtual-devices/2001/objects", operator_token, body)
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert VirtualObject.objects.count() == before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"min_value": 200}, "min_value 200 is above max_value 100"),
        ({"cov_increment": -0.5}, "cov_increment"),
        ({"min_value": 50}, "0 is out of range: Virtual_2001_Damper_Position takes 50..100"),
    ],
)
def test_an_edit_the_worker_could_not_serve_is_400_and_changes_nothing(
    client, building, operator_token, body, words
):
    damper = VirtualObject.objects.get(name="Damper_Position")
    url = f"/api/virtual-objects/{damper.pk}"
    response = call(client, "patch", url, operator_token, body)
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    after = VirtualObject.objects.get(pk=damper.pk)
    assert (after.name, after.min_value, after.cov_increment, after.updated_at) == (
        damper.name,
        damper.min_value,
        damper.cov_increment,
        damper.updated_at,
    )


def test_a_new_objects_value_is_read_with_the_one_vocabulary(client, building, operator_token):
    body = {"object_type": "binary-value", "name": "Pump", "present_value": "on"}
    created = call(client, "post", "/api/virtual-devices/2001/objects", operator_token, body)
    assert created.status_code == 201, created.content
    assert created.json()["present_value"] == "active"
    assert created.json()["relinquish_default"] == "active"
