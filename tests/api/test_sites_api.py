"""Sites in the API: GET /api/sites, an optional `site` on POST /api/tasks (checked like the
pages check it, with a 4xx that says why), device work routed to the device's site, and tasks
that carry and filter by their site."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from bms.devices.models import BACnetDevice
from bms.tasks import queue
from bms.tasks.models import BACnetTask, WorkerHeartbeat

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client: Client, url: str, body: object, token: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **bearer(token))


def test_sites_lists_the_default_first_with_its_live_workers(client, north, viewer_token):
    BACnetDevice.objects.create(site="east", device_instance=7, address="10.2.0.7")
    WorkerHeartbeat.objects.create(worker_id="gone", site="west", heartbeat_at="2020-01-01T00:00Z")
    response = client.get("/api/sites", **bearer(viewer_token))
    assert response.status_code == 200
    assert response.json() == [
        {"name": "default", "default": True, "workers_alive": 0},
        {"name": "east", "default": False, "workers_alive": 0},
        {"name": "north", "default": False, "workers_alive": 1},
        {"name": "west", "default": False, "workers_alive": 0},
    ]


@pytest.mark.parametrize("kind", ["discover", "collect"])
def test_site_wide_work_is_queued_for_the_site_given(client, north, operator_token, kind):
    response = post(client, "/api/tasks", {"type": kind, "site": "north"}, operator_token)
    assert response.status_code == 202, response.content
    assert response.json()["site"] == "north"
    assert BACnetTask.objects.get(id=response.json()["task_id"]).site == "north"


def test_site_wide_work_without_a_site_goes_to_bacnet_site(client, north, operator_token, settings):
    settings.BACNET_SITE = "hq"
    response = post(client, "/api/tasks", {"type": "discover"}, operator_token)
    assert response.json()["site"] == "hq"


def test_an_unknown_site_is_400_naming_the_known_sites(client, north, operator_token):
    response = post(client, "/api/tasks", {"type": "discover", "site": "nowhere"}, operator_token)
    assert response.status_code == 400
    assert response.json() == {"detail": "there is no site 'nowhere'; known sites: default, north"}
    assert not BACnetTask.objects.exists()


@pytest.mark.parametrize("site", ["bad site", "north/../x", "", "n" * 101])
def test_an_ill_formed_site_is_422_naming_the_field(client, north, operator_token, site):
    response = post(client, "/api/tasks", {"type": "discover", "site": site}, operator_token)
    assert response.status_code == 422, response.content
    assert response.json()["message"].startswith("site: ")
    assert not BACnetTask.objects.exists()


def test_device_endpoints_queue_for_the_devices_site(client, north, building, operator_token):
    device, ao = north["device"], north["ao"]
    urls_bodies = [
        (f"/api/devices/{device.id}/read-points", {}),
        (f"/api/devices/{device.id}/collect", {}),
        (f"/api/points/{ao.id}/write", {"value": 30, "priority": 8}),
    ]
    for url, body in urls_bodies:
        response = post(client, url, body, operator_token)
        assert response.status_code == 202, (url, response.content)
        assert response.json()["site"] == "north", url
    other = post(client, f"/api/devices/{building['device'].id}/read-points", {}, operator_token)
    assert other.json()["site"] == "default"


def test_a_task_on_an_instance_goes_to_the_one_site_that_knows_it(client, north, operator_token):
    for body in (
        {"type": "read_points", "parameters": {"device_id": 1001}},
        {"type": "collect", "parameters": {"device_ids": [1001]}},
        {"type": "write_point", "parameters": {"point_id": north["ao"].id, "value": 30}},
    ):
        response = post(client, "/api/tasks", body, operator_token)
        assert response.status_code == 202, response.content
        assert response.json()["site"] == "north", body


def test_an_instance_known_on_two_sites_needs_the_site(client, north, building, operator_token):
    body = {"type": "read_points", "parameters": {"device_id": 1001}}
    before = BACnetTask.objects.count()
    refused = post(client, "/api/tasks", body, operator_token)
    assert refused.status_code == 400
    assert "several sites (default, north): give the site" in refused.json()["detail"]
    chosen = post(client, "/api/tasks", {**body, "site": "default"}, operator_token)
    assert chosen.status_code == 202
    assert chosen.json()["site"] == "default"
    assert BACnetTask.objects.count() == before + 1


def test_a_collect_of_devices_on_two_sites_is_refused(client, north, operator_token):
    BACnetDevice.objects.create(device_instance=5, address="127.0.0.5")
    response = post(
        client,
        "/api/tasks",
        {"type": "collect", "parameters": {"device_ids": [5, 1001]}},
        operator_token,
    )
    assert response.status_code == 400
    assert "not all on one site" in response.json()["detail"]
    assert not BACnetTask.objects.exists()


def test_a_write_naming_another_site_than_its_points_is_400(client, north, operator_token):
    body = {
        "type": "write_point",
        "site": "default",
        "parameters": {"point_id": north["ao"].id, "value": 30},
    }
    response = post(client, "/api/tasks", body, operator_token)
    assert response.status_code == 400
    assert "is on site 'north', not 'default'" in response.json()["detail"]
    assert not BACnetTask.objects.exists()


def test_tasks_carry_their_site_and_filter_by_it(client, north, operator_token):
    north_task = queue.enqueue("collect", {}, site="north")
    queue.enqueue("collect", {})
    page = client.get("/api/tasks?site=north", **bearer(operator_token)).json()
    assert page["count"] == 1
    assert page["items"][0]["id"] == north_task.id
    assert page["items"][0]["site"] == "north"
    one = client.get(f"/api/tasks/{north_task.id}", **bearer(operator_token)).json()
    assert one["site"] == "north"


def test_the_openapi_schema_documents_the_site(viewer_client):
    schema = viewer_client.get("/api/openapi.json").json()
    site = schema["components"]["schemas"]["TaskIn"]["properties"]["site"]
    assert "BACNET_SITE" in site["description"]
    assert any(
        option.get("pattern") == "^[A-Za-z0-9_.-]{1,100}$" for option in site.get("anyOf", [site])
    )
    assert "/api/sites" in schema["paths"]
