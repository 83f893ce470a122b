"""The REST API: authentication (token or session with CSRF), roles, and clear 4xx errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from bms.devices.models import WriteAudit
from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client: Client, url: str, body: object, token: str) -> object:
    return client.post(url, json.dumps(body), content_type="application/json", **bearer(token))


READ_URLS = [
    "/api/devices",
    "/api/tasks",
    "/api/virtual-devices",
    "/api/task-status/1/",
    "/api/points/1/readings",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_requests_get_401(client, db, url):
    assert client.get(url).status_code == 401


def test_anonymous_writes_get_401_and_change_nothing(client, db):
    response = client.post(
        "/api/tasks", json.dumps({"type": "discover"}), content_type="application/json"
    )
    assert response.status_code == 401
    assert not BACnetTask.objects.exists()


def test_a_wrong_token_is_401(client, db):
    assert client.get("/api/devices", **bearer("bms_nope")).status_code == 401


def test_a_token_reads_devices_and_points(client, building, viewer_token):
    devices = client.get("/api/devices", **bearer(viewer_token)).json()
    assert [d["device_instance"] for d in devices] == [1001]
    device_pk = building["device"].id
    detail = client.get(f"/api/devices/{device_pk}", **bearer(viewer_token)).json()
    assert detail["vendor_name"] == "Sim"
    points = client.get(f"/api/devices/{device_pk}/points", **bearer(viewer_token)).json()
    assert {p["name"] for p in points} == {"Zone_Temp", "Damper", "Fan", "Mode"}


def test_unknown_ids_are_404_with_a_message(client, db, viewer_token):
    for url in (
        "/api/devices/999",
        "/api/points/999",
        "/api/tasks/999",
        "/api/virtual-devices/999",
        "/api/virtual-objects/999",
    ):
        response = client.get(url, **bearer(viewer_token))
        assert response.status_code == 404, url
        assert "999" in response.json()["detail"], url


def test_readings_come_oldest_first_in_pages(client, building, viewer_token):
    url = f"/api/points/{building['ai'].id}/readings"
    first = client.get(url + "?limit=4", **bearer(viewer_token)).json()
    assert first["count"] == 10
    assert len(first["items"]) == 4
    values = [r["value"] for r in first["items"]]
    assert values == sorted(values, reverse=True)  # older readings had higher values
    rest = client.get(url + "?limit=100&offset=4", **bearer(viewer_token)).json()
    assert len(rest["items"]) == 6


def test_readings_respect_the_time_range(client, building, viewer_token):
    from django.utils import timezone

    since = (timezone.now() - timezone.timedelta(minutes=2, seconds=30)).isoformat()
    url = f"/api/points/{building['ai'].id}/readings"
    found = client.get(url, {"since": since}, **bearer(viewer_token)).json()
    assert found["count"] == 3


@pytest.mark.parametrize("query", ["limit=0", "limit=5000", "offset=-1", "since=yesterday"])
def test_bad_reading_queries_are_422(client, building, viewer_token, query):
    url = f"/api/points/{building['ai'].id}/readings?{query}"
    response = client.get(url, **bearer(viewer_token))
    assert response.status_code == 422
    assert response.json()["message"]


def test_since_after_until_is_400(client, building, viewer_token):
    url = (
        f"/api/points/{building['ai'].id}/readings"
        "?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z"
    )
    assert client.get(url, **bearer(viewer_token)).status_code == 400


# Tasks ---------------------------------------------------------------------------------------


def test_an_operator_creates_a_discovery_task(client, db, operator_token):
    response = post(
        client,
        "/api/tasks",
        {"type": "discover", "parameters": {"low": 1, "high": 9}},
        operator_token,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["status_url"] == f"/api/task-status/{body['task_id']}/"
    task = BACnetTask.objects.get(id=body["task_id"])
    assert task.parameters["low"] == 1
    assert task.parameters["high"] == 9


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/tasks", {"type": "discover"}),
        ("/api/tasks", {"type": "collect", "parameters": {"device_ids": [1001]}}),
        ("/api/tasks", {"type": "read_points", "parameters": {"device_id": 1001}}),
        ("/api/devices/{device}/collect", None),
        ("/api/devices/{device}/read-points", None),
    ],
)
def test_tasks_queued_through_the_api_name_who_asked(client, building, operator_token, url, body):
    # The tasks page shows parameters["user"] as the requester; the API used to leave it out.
    url = url.format(device=building["device"].id)
    response = post(client, url, body or {}, operator_token)
    assert response.status_code == 202, response.content
    assert BACnetTask.objects.get(id=response.json()["task_id"]).parameters["user"] == "otto"


def test_viewers_cannot_create_tasks(client, db, viewer_token):
    response = post(client, "/api/tasks", {"type": "discover"}, viewer_token)
    assert response.status_code == 403
    assert "operator" in response.json()["detail"]
    assert not BACnetTask.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"type": "reboot"}, 422, "type"),
        ({"type": "discover", "parameters": {"low": 5}}, 400, "both low and high"),
        ({"type": "discover", "parameters": {"low": "x", "high": 2}}, 422, "low"),
        ({"type": "read_points", "parameters": {}}, 422, "device_id"),
        ({"type": "read_points", "parameters": {"device_id": 4194303}}, 422, "device_id"),
        ({"type": "collect", "parameters": {"device_ids": [-1]}}, 400, "outside"),
        ({"type": "write_point", "parameters": {"point_id": 999, "value": 1}}, 404, "999"),
        ({"parameters": {}}, 422, "type"),
    ],
)
def test_bad_task_requests_are_4xx_with_the_reason(client, db, operator_token, body, status, words):
    response = post(client, "/api/tasks", body, operator_token)
    assert response.status_code == status, response.content
    assert words in json.dumps(response.json())
    assert not BACnetTask.objects.exists()


def test_malformed_json_is_400(client, db, operator_token):
    response = client.post(
        "/api/tasks", "{not json", content_type="application/json", **bearer(operator_token)
    )
    assert response.status_code == 400
    assert "parse" in response.json()["detail"]


def test_tasks_are_listed_with_filters_and_paging(client, db, operator_token):
    for kind in ("discover", "collect", "collect"):
        post(client, "/api/tasks", {"type": kind}, operator_token)
    page = client.get("/api/tasks?type=collect&limit=1", **bearer(operator_token)).json()
    assert page["count"] == 2
    assert len(page["items"]) == 1
    assert page["items"][0]["type"] == "collect"
    none = client.get("/api/tasks?status=failed", **bearer(operator_token)).json()
    assert none["count"] == 0
    assert client.get("/api/tasks?status=bogus", **bearer(operator_token)).status_code == 422


def test_task_status_has_the_seed_fields(client, building, viewer_token):
    task = building["task"]
    body = client.get(f"/api/task-status/{task.id}/", **bearer(viewer_token)).json()
    assert {k: body[k] for k in ("id", "status", "type", "completed", "result", "error")} == {
        "id": task.id,
        "status": "pending",
        "type": "discover",
        "completed": None,
        "result": None,
        "error": "",
    }
    assert body["created"] == task.created_at.isoformat()


def test_task_status_of_a_missing_task_is_the_seed_404(client, db, viewer_token):
    response = client.get("/api/task-status/424242/", **bearer(viewer_token))
    assert response.status_code == 404
    assert response.json() == {"error": "Task not found"}


def test_session_writes_need_the_csrf_token(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(
        "/api/tasks", json.dumps({"type": "discover"}), content_type="application/json"
    )
    assert response.status_code in (401, 403)
    assert not BACnetTask.objects.exists()
    assert client.get("/api/tasks").status_code == 200


# Point writes --------------------------------------------------------------------------------


def test_an_operator_writes_a_point_as_an_api_write_of_the_token_owner(
    client, building, operator_token
):
    response = post(
        client,
        f"/api/points/{building['ao'].id}/write",
        {"value": 42, "priority": 8},
        operator_token,
    )
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.task_type == "write_point"
    assert task.parameters["value"] == 42.0
    assert (task.parameters["user"], task.parameters["source"]) == ("otto", "api")


def test_a_write_through_the_tasks_endpoint_is_an_api_write_too(client, building, operator_token):
    body = {
        "type": "write_point",
        "parameters": {"point_id": building["ao"].id, "value": 21, "priority": 8},
    }
    response = post(client, "/api/tasks", body, operator_token)
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert (task.parameters["user"], task.parameters["source"]) == ("otto", "api")


def test_a_refused_api_write_is_audited_as_the_api_users(client, building, operator_token):
    response = post(client, f"/api/points/{building['ai'].id}/write", {"value": 5}, operator_token)
    assert response.status_code == 400
    audit = WriteAudit.objects.get(point=building["ai"])
    assert (audit.source, audit.who, audit.accepted) == ("api", "otto", False)
    assert "not commandable" in audit.reason


def test_a_write_through_the_tasks_endpoint_is_validated_the_same(client, building, operator_token):
    body = {
        "type": "write_point",
        "parameters": {"point_id": building["ao"].id, "value": "hot", "priority": 8},
    }
    response = post(client, "/api/tasks", body, operator_token)
    assert response.status_code == 400
    assert "number" in response.json()["detail"]


@pytest.mark.parametrize(
    ("point", "body", "words"),
    [
        ("ao", {"value": 1, "priority": 17}, "1..16"),
        ("ao", {"value": 1, "priority": 0}, "1..16"),
        ("ao", {"value": "hot"}, "number"),
        ("ao", {"value": True}, "number"),
        ("ao", {}, "value is required"),
        ("ao", {"value": 3, "relinquish": True}, "no value"),
        ("bo", {"value": 2}, "active"),
        ("msv", {"value": 0}, "state number"),
        ("msv", {"value": 9}, "1..3"),
        ("ai", {"value": 1}, "not commandable"),
    ],
)
def test_bad_writes_are_400_with_the_reason(client, building, operator_token, point, body, words):
    response = post(client, f"/api/points/{building[point].id}/write", body, operator_token)
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert not BACnetTask.objects.filter(task_type="write_point").exists()


def test_a_write_with_a_wrongly_typed_priority_is_422(client, building, operator_token):
    response = post(
        client,
        f"/api/points/{building['ao'].id}/write",
        {"value": 1, "priority": "high"},
        operator_token,
    )
    assert response.status_code == 422
    assert "priority" in response.json()["message"]


def test_relinquish_writes_null(client, building, operator_token):
    response = post(
        client,
        f"/api/points/{building['bo'].id}/write",
        {"relinquish": True, "priority": 8},
        operator_token,
    )
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.parameters["value"] is None
    assert task.parameters["relinquish"] is True


def test_viewers_cannot_write_points(client, building, viewer_token):
    response = post(client, f"/api/points/{building['ao'].id}/write", {"value": 1}, viewer_token)
    assert response.status_code == 403


def test_docs_need_sign_in_and_serve_swagger_locally(client, viewer_client):
    assert client.get("/api/docs").status_code == 302
    html = viewer_client.get("/api/docs").content.decode()
    assert "cdn." not in html
    assert "/static/ninja/" in html
    schema = viewer_client.get("/api/openapi.json").json()
    assert "/api/points/{point_pk}/write" in schema["paths"]
