"""Whatever a client sends gets a 4xx that names what was wrong, never a 500 (issue 11: each
of these was a 500 found by schemathesis, reproducible with curl)."""

from __future__ import annotations

import json

import pytest

from bms.api.paging import MAX_OFFSET
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

pytestmark = pytest.mark.django_db
BEYOND_BIGINT = 10**19


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def send(client, method: str, url: str, token: str, body: object):
    return getattr(client, method)(
        url, json.dumps(body), content_type="application/json", **bearer(token)
    )


def message(response) -> str:
    return response.json()["message"]


# NUL characters: PostgreSQL cannot store them, and they are never part of a name ------------


@pytest.mark.parametrize("url", ["/api/devices?site=a%00b", "/api/tasks?site=a%00b"])
def test_a_nul_in_a_query_is_422_naming_the_parameter(client, db, viewer_token, url):
    response = client.get(url, **bearer(viewer_token))
    assert response.status_code == 422, response.content
    assert message(response).startswith("site: ")
    assert "NUL" in message(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device_id": 6001, "device_name": "a\u0000b"}, "device_name"),
        ({"device_id": 6001, "device_name": "ok", "description": "\u0000"}, "description"),
    ],
)
def test_a_nul_in_a_virtual_device_is_422_naming_the_field(client, db, operator_token, body, field):
    response = send(client, "post", "/api/virtual-devices", operator_token, body)
    assert response.status_code == 422, response.content
    assert message(response).startswith(f"{field}: ")
    assert "NUL" in message(response)
    assert not VirtualBACnetDevice.objects.exists()


def test_a_nul_in_a_state_text_is_422_naming_the_field(client, building, operator_token):
    body = {"object_type": "multi-state-value", "name": "Mode2", "state_texts": ["a", "b\u0000"]}
    response = send(client, "post", "/api/virtual-devices/2001/objects", operator_token, body)
    assert response.status_code == 422, response.content
    assert message(response).startswith("state_texts.1: ")
    assert "NUL" in message(response)
    assert not VirtualObject.objects.filter(name="Mode2").exists()


def test_a_nul_in_a_written_value_is_422(client, building, operator_token):
    url = f"/api/points/{building['bo'].id}/write"
    response = send(client, "post", url, operator_token, {"value": "act\u0000ive"})
    assert response.status_code == 422, response.content
    assert "value" in message(response)
    assert "NUL" in message(response)


def test_a_nul_in_task_parameters_is_422(client, db, operator_token):
    body = {"type": "discover", "parameters": {"address": "127.0.0.\u00002"}}
    response = send(client, "post", "/api/tasks", operator_token, body)
    assert response.status_code == 422, response.content
    assert "address" in message(response)
    assert "NUL" in message(response)
    assert not BACnetTask.objects.exists()


# Offsets and limits bounded in the schema -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/tasks?offset={n}",
        "/api/points/{ai}/readings?offset={n}",
        "/api/virtual-objects/{vo}/readings?offset={n}",
    ],
)
def test_an_offset_beyond_the_bound_is_422(client, building, viewer_token, url):
    vo = VirtualObject.objects.filter(device__device_id=2001).first()
    for offset in (BEYOND_BIGINT, MAX_OFFSET + 1):
        response = client.get(
            url.format(n=offset, ai=building["ai"].id, vo=vo.id), **bearer(viewer_token)
        )
        assert response.status_code == 422, response.content
        assert message(response).startswith("offset: ")


def test_the_largest_offset_is_an_empty_page(client, building, viewer_token):
    response = client.get(f"/api/tasks?offset={MAX_OFFSET}", **bearer(viewer_token))
    assert response.status_code == 200
    assert response.json() == {"count": 1, "items": []}


# Time zones ---------------------------------------------------------------------------------


def test_a_time_with_an_odd_offset_is_read_as_that_offset(client, building, viewer_token):
    url = f"/api/points/{building['ai'].id}/readings?since=2000-01-01T00:00:00-16:16"
    url += "&until=2098-10-05T13:00:18-16:16"
    response = client.get(url, **bearer(viewer_token))
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 10


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31T23:59:59-16:16",  # past the calendar's end in UTC
        "until=0001-01-01T00:00:00",  # its default since is 24 h before the calendar
        "since=0001-01-01T00:00:00%2B16:16",  # before the calendar's start in UTC
    ],
)
def test_a_time_at_the_ends_of_the_calendar_is_read_as_that_end(
    client, building, viewer_token, query
):
    url = f"/api/points/{building['ai'].id}/readings?{query}"
    response = client.get(url, **bearer(viewer_token))
    assert response.status_code == 200, response.content
    assert response.json()["count"] == (10 if query.startswith("since") else 0)


# The schema is the truth: what it refuses is refused, what it accepts is accepted ----------


def test_a_bool_is_not_a_device_id(client, db, operator_token):
    body = {"device_id": False, "device_name": "zero"}
    response = send(client, "post", "/api/virtual-devices", operator_token, body)
    assert response.status_code == 422, response.content
    assert message(response).startswith("device_id: ")
    assert not VirtualBACnetDevice.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"type": "read_points", "parameters": {"device_id": True}},
        {"type": "write_point", "parameters": {"point_id": 1, "value": 1, "priority": True}},
    ],
)
def test_a_bool_is_not_an_integer_parameter(client, building, operator_token, body):
    response = send(client, "post", "/api/tasks", operator_token, body)
    assert response.status_code == 422, response.content
    assert not BACnetTask.objects.exclude(id=building["task"].id).exists()


@pytest.mark.parametrize("body", [[None, None], [], "x", 5])
def test_a_patch_body_must_be_an_object(client, building, operator_token, body):
    before = VirtualBACnetDevice.objects.get(device_id=2001).updated_at
    response = send(client, "patch", "/api/virtual-devices/2001", operator_token, body)
    assert response.status_code == 422, response.content
    assert VirtualBACnetDevice.objects.get(device_id=2001).updated_at == before


def test_a_99_character_site_is_a_site_name(client, db, operator_token):
    site = "s" * 99
    response = client.get(f"/api/tasks?site={site}", **bearer(operator_token))
    assert response.status_code == 200, response.content
    body = {"type": "discover", "site": site}
    response = send(client, "post", "/api/tasks", operator_token, body)
    assert response.status_code == 400, response.content
    assert "unknown site" in response.json()["detail"] or "site" in response.json()["detail"]


def test_a_null_description_is_refused_by_the_schema_not_by_the_service(
    client, building, operator_token
):
    response = send(
        client, "patch", "/api/virtual-devices/2001", operator_token, {"description": None}
    )
    assert response.status_code == 422, response.content
    assert message(response).startswith("description: ")
    schema = client.get("/api/openapi.json", **bearer(operator_token)).json()
    patch = schema["components"]["schemas"]["VirtualDevicePatch"]["properties"]["description"]
    assert "null" not in json.dumps(patch)


def test_a_null_limit_is_accepted_and_clears_it(client, building, operator_token):
    damper = VirtualObject.objects.get(name="Damper_Position")
    url = f"/api/virtual-objects/{damper.pk}"
    response = send(client, "patch", url, operator_token, {"max_value": None})
    assert response.status_code == 200, response.content
    assert response.json()["max_value"] is None


@pytest.mark.parametrize("field", ["name", "description", "units", "out_of_service"])
def test_a_null_in_an_object_patch_is_422_and_changes_nothing(
    client, building, operator_token, field
):
    damper = VirtualObject.objects.get(name="Damper_Position")
    url = f"/api/virtual-objects/{damper.pk}"
    response = send(client, "patch", url, operator_token, {field: None})
    assert response.status_code == 422, response.content
    assert message(response).startswith(f"{field}: ")
    assert "cannot be null" in message(response)
    assert VirtualObject.objects.get(pk=damper.pk).updated_at == damper.updated_at
