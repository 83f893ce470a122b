"""Series and CSV exports over the API: a point's and a virtual object's history at the
requested width, a device's points in one CSV, and bad input refused with a 4xx."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bms.devices.models import BACnetReading

pytestmark = pytest.mark.django_db


def get(client: Any, url: str, token: str, **params: Any) -> Any:
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def csv_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_a_points_series_is_its_raw_readings_when_they_fit(client, viewer_token, building):
    ai = building["ai"]
    response = get(client, f"/api/points/{ai.pk}/series", viewer_token, points=100)
    assert response.status_code == 200
    body = response.json()
    assert (body["resolution"], body["resolution_seconds"]) == ("raw", 0)
    assert [item["last"] for item in body["items"]] == [20.0 + i for i in range(9, -1, -1)]
    assert all(item["count"] == 1 for item in body["items"])


def test_a_series_wider_than_asked_comes_in_buckets(client, viewer_token, building):
    ai = building["ai"]
    end = timezone.now()
    response = get(
        client,
        f"/api/points/{ai.pk}/series",
        viewer_token,
        start=(end - timedelta(hours=1)).isoformat(),
        end=end.isoformat(),
        points=5,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["resolution_seconds"] >= 60
    assert len(body["items"]) <= 5
    assert sum(item["count"] for item in body["items"]) == 10
    assert min(item["min"] for item in body["items"]) == 20.0
    assert max(item["max"] for item in body["items"]) == 29.0


def test_a_virtual_objects_series(client, viewer_token, building):
    damper = building["virtual"].virtual_objects.get(name="Damper_Position")
    BACnetReading.objects.create(virtual_object=damper, value=35.0, timestamp=timezone.now())
    response = get(client, f"/api/virtual-objects/{damper.pk}/series", viewer_token)
    assert response.status_code == 200
    assert response.json()["items"][-1]["last"] == 35.0


def test_a_series_as_csv_has_a_header_and_a_line_per_item(client, viewer_token, building):
    ai = building["ai"]
    response = get(client, f"/api/points/{ai.pk}/series.csv", viewer_token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_of(response)
    assert rows[0] == ["time", "count", "min", "max", "avg", "last"]
    assert [row[5] for row in rows[1:]] == [repr(20.0 + i) for i in range(9, -1, -1)]


def test_a_devices_points_in_one_csv(client, viewer_token, building):
    device = building["device"]
    BACnetReading.objects.create(point=building["bo"], value="active", timestamp=timezone.now())
    response = get(client, f"/api/devices/{device.pk}/history.csv", viewer_token)
    assert response.status_code == 200
    rows = csv_of(response)
    assert rows[0][:5] == ["point_id", "object_type", "instance", "name", "units"]
    by_point: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_point.setdefault(row[3], []).append(row)
    assert len(by_point["Zone_Temp"]) == 10
    assert by_point["Fan"][0][-1] == "active"
    assert by_point["Fan"][0][-2] == "1.0"  # avg: active


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, 400),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, 400),
        ({"points": 0}, 422),
        ({"points": 10_001}, 422),
        ({"points": "many"}, 422),
        ({"start": "yesterday"}, 422),
        ({"start": "0001-01-01T00:00:00+14:00", "end": "9999-12-31T23:59:59-14:00"}, 200),
    ],
)
def test_bad_input_is_refused_with_a_4xx(client, viewer_token, building, params, status):
    ai = building["ai"]
    for url in (f"/api/points/{ai.pk}/series", f"/api/points/{ai.pk}/series.csv"):
        response = get(client, url, viewer_token, **params)
        assert response.status_code == status, (url, params)


def test_unknown_subjects_are_404_and_anonymous_is_401(client, viewer_token, building):
    for url in ("/api/points/999999/series", "/api/virtual-objects/999999/series.csv"):
        assert get(client, url, viewer_token).status_code == 404
    assert get(client, "/api/devices/999999/history.csv", viewer_token).status_code == 404
    assert client.get(f"/api/points/{building['ai'].pk}/series").status_code == 401
