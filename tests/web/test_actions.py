"""Page actions: operators queue tasks and edit virtual devices; viewers get 403; bad input
gets 400 with a reason, and nothing is created or lost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bms.devices.models import WriteAudit
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualBACnetDevice

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def operator_posts(building: dict) -> list[tuple[str, dict]]:
    return [
        (reverse("web:discover"), {}),
        (reverse("web:read_points", args=[building["device"].id]), {}),
        (reverse("web:collect", args=[building["device"].id]), {}),
        (reverse("web:point_write", args=[building["ao"].id]), {"value": "50", "priority": 8}),
        (reverse("web:virtual_stop", args=[2001]), {}),
        (reverse("web:virtual_start", args=[2001]), {}),
        (reverse("web:virtual_delete", args=[2001]), {}),
    ]


def test_viewers_cannot_run_any_action(viewer_client, building):
    tasks_before = BACnetTask.objects.count()
    for url, data in operator_posts(building):
        assert viewer_client.post(url, data, **JSON).status_code == 403, url
    assert BACnetTask.objects.count() == tasks_before
    assert VirtualBACnetDevice.objects.filter(device_id=2001, is_running=True).exists()


def test_anonymous_actions_redirect_to_sign_in(client, building):
    for url, data in operator_posts(building):
        response = client.post(url, data)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"], url


def test_actions_refuse_get(operator_client, building):
    assert operator_client.get(reverse("web:discover")).status_code == 405


def test_discover_queues_a_task_and_answers_with_its_id(operator_client, db):
    response = operator_client.post(
        reverse("web:discover"), {"low": "100", "high": "200", "address": ""}, **JSON
    )
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.task_type == "discover"
    assert task.status == "pending"
    assert task.parameters["low"] == 100
    assert task.parameters["high"] == 200


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"low": "100"}, "both ends"),
        ({"low": "300", "high": "200"}, "above its end"),
        ({"low": "-1", "high": "5"}, "greater than or equal to 0"),
        ({"low": "abc", "high": "5"}, "whole number"),
        ({"address": "hello world"}, "address: bad BACnet address 'hello world'"),
        ({"address": "127.0.0.300"}, "Octet 300"),
    ],
)
def test_a_bad_discovery_range_is_a_400_with_the_reason(operator_client, db, data, reason):
    response = operator_client.post(reverse("web:discover"), data, **JSON)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not BACnetTask.objects.exists()


def test_scan_again_asks_the_worker_for_a_fresh_scan(operator_client, db):
    plain = operator_client.post(reverse("web:discover"), {"address": "127.0.0.2"}, **JSON)
    again = operator_client.post(reverse("web:discover"), {"force": "on"}, **JSON)
    tasks = BACnetTask.objects.in_bulk([plain.json()["task_id"], again.json()["task_id"]])
    assert tasks[plain.json()["task_id"]].parameters["force"] is False
    assert tasks[again.json()["task_id"]].parameters["force"] is True


def test_a_bad_discovery_without_javascript_gets_a_400_page(operator_client, db):
    response = operator_client.post(reverse("web:discover"), {"low": "1"})
    assert response.status_code == 400
    assert b"both ends" in response.content


def test_read_points_and_collect_name_the_device_instance_and_the_operator(
    operator_client, building
):
    device = building["device"]
    read = operator_client.post(reverse("web:read_points", args=[device.id]), **JSON).json()
    collect = operator_client.post(reverse("web:collect", args=[device.id]), **JSON).json()
    assert BACnetTask.objects.get(id=read["task_id"]).parameters == {
        "device_id": 1001,
        "user": "otto",
    }
    assert BACnetTask.objects.get(id=collect["task_id"]).parameters == {
        "device_ids": [1001],
        "user": "otto",
    }


def test_an_operator_write_queues_a_task_carrying_the_user_and_source(operator_client, building):
    url = reverse("web:point_write", args=[building["ao"].id])
    response = operator_client.post(url, {"value": "55.5", "priority": "8"}, **JSON)
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.parameters == {
        "point_id": building["ao"].id,
        "value": 55.5,
        "priority": 8,
        "relinquish": False,
        "user": "otto",
        "source": "operator",
    }


def test_relinquish_sends_no_value(operator_client, building):
    url = reverse("web:point_write", args=[building["bo"].id])
    response = operator_client.post(
        url, {"value": "active", "priority": "8", "relinquish": "on"}, **JSON
    )
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.parameters["relinquish"] is True
    assert task.parameters["value"] is None


@pytest.mark.parametrize(
    ("point", "data", "reason"),
    [
        ("ao", {"value": "hot", "priority": "8"}, "takes a finite number (got 'hot')"),
        ("ao", {"value": "5", "priority": "17"}, "less than or equal to 16"),
        ("ao", {"value": "5", "priority": "0"}, "greater than or equal to 1"),
        ("ai", {"value": "5", "priority": "8"}, "not commandable"),
        ("bo", {"value": "maybe", "priority": "8"}, '"active" or "inactive"'),
        ("msv", {"value": "4", "priority": "8"}, "state number 1..3"),
    ],
)
def test_a_bad_write_is_a_400_with_the_reason_and_queues_nothing(
    operator_client, building, point, data, reason
):
    tasks_before = BACnetTask.objects.count()
    url = reverse("web:point_write", args=[building[point].id])
    response = operator_client.post(url, data, **JSON)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert BACnetTask.objects.count() == tasks_before


def test_a_refused_write_is_in_the_audit_log(operator_client, building):
    url = reverse("web:point_write", args=[building["ai"].id])
    operator_client.post(url, {"value": "5", "priority": "8"}, **JSON)
    audit = WriteAudit.objects.get(point=building["ai"])
    assert not audit.accepted
    assert audit.who == "otto"
    assert "not commandable" in audit.reason
    assert audit.source == "operator"
    html = operator_client.get(reverse("web:audit")).content.decode()
    assert "not commandable" in html


def test_writing_an_unknown_point_is_a_404(operator_client, db):
    assert (
        operator_client.post(
            reverse("web:point_write", args=[999]), {"value": "1"}, **JSON
        ).status_code
        == 404
    )
