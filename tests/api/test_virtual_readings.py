"""A virtual object's readings over the API: the values external writes and commands left, in
the same window and pages as a remote point's, for viewers, with 404 for unknown objects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bms.devices.models import BACnetReading
from bms.virtual.models import VirtualObject

pytestmark = pytest.mark.django_db


def get(client: Any, url: str, token: str, **params: Any) -> Any:
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def damper(building: dict[str, Any]) -> VirtualObject:
    """Damper_Position with six external writes a minute apart (the newest 0 min ago), and a
    reading of another object that must not show up."""
    damper = building["virtual"].virtual_objects.get(name="Damper_Position")
    now = timezone.now()
    BACnetReading.objects.bulk_create(
        BACnetReading(
            virtual_object=damper,
            value=10.0 * i,
            source="external_bacnet_write",
            timestamp=now - timedelta(minutes=5 - i),
        )
        for i in range(6)
    )
    other = building["virtual"].virtual_objects.exclude(pk=damper.pk).first()
    BACnetReading.objects.create(virtual_object=other, value=99.0, timestamp=now)
    return damper


def url(obj: VirtualObject | int) -> str:
    return f"/api/virtual-objects/{getattr(obj, 'pk', obj)}/readings"


def test_a_viewer_reads_a_virtual_objects_readings_oldest_first(client, damper, viewer_token):
    first = get(client, url(damper), viewer_token, limit=4).json()
    assert first["count"] == 6
    assert [r["value"] for r in first["items"]] == [0.0, 10.0, 20.0, 30.0]
    assert {r["source"] for r in first["items"]} == {"external_bacnet_write"}
    rest = get(client, url(damper), viewer_token, offset=4).json()
    assert [r["value"] for r in rest["items"]] == [40.0, 50.0]


def test_the_window_is_the_same_as_for_points(client, damper, viewer_token):
    since = timezone.now() - timedelta(minutes=2, seconds=30)
    found = get(client, url(damper), viewer_token, since=since.isoformat()).json()
    assert [r["value"] for r in found["items"]] == [30.0, 40.0, 50.0]
    backwards = get(
        client,
        url(damper),
        viewer_token,
        since="2030-01-02T00:00:00Z",
        until="2030-01-01T00:00:00Z",
    )
    assert backwards.status_code == 400
    assert get(client, url(damper), viewer_token, limit=0).status_code == 422


def test_operator_commands_show_in_the_readings(client, building, operator_token):
    damper = building["virtual"].virtual_objects.get(name="Damper_Position")
    response = client.post(
        f"/api/virtual-objects/{damper.pk}/command",
        '{"value": 42.5, "priority": 8}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {operator_token}",
    )
    assert response.status_code == 200
    items = get(client, url(damper), operator_token).json()["items"]
    assert [(r["value"], r["source"]) for r in items] == [(42.5, "operator_write")]


@pytest.mark.parametrize("object_pk", [999, 10**25])
def test_unknown_virtual_objects_are_404(client, db, viewer_token, object_pk):
    response = get(client, url(object_pk), viewer_token)
    assert response.status_code == 404
    assert str(object_pk) in response.json()["detail"]


def test_anonymous_requests_get_401(client, damper):
    assert client.get(url(damper)).status_code == 401


def test_the_openapi_document_describes_it_like_the_points_readings(viewer_client):
    paths = viewer_client.get("/api/openapi.json").json()["paths"]
    mine = paths["/api/virtual-objects/{object_pk}/readings"]["get"]
    points = paths["/api/points/{point_pk}/readings"]["get"]
    assert (
        set(mine["responses"])
        == set(points["responses"])
        == {"200", "400", "401", "404", "422", "429"}
    )
    assert (
        {p["name"] for p in mine["parameters"]} - {"object_pk"}
        == {p["name"] for p in points["parameters"]} - {"point_pk"}
        == {"since", "until", "limit", "offset"}
    )
    assert mine["responses"]["200"] == points["responses"]["200"]
