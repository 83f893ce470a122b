"""The device list and a device's point list are paged by limit and offset, and still answer
a bare JSON array (the shape clients were written for) with the total in X-Total-Count."""

from __future__ import annotations

import pytest

from bms.api.paging import MAX_LIMIT, MAX_OFFSET
from bms.devices.models import BACnetDevice, BACnetPoint

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def devices(db):
    return BACnetDevice.objects.bulk_create(
        BACnetDevice(device_instance=100 + i, address=f"10.0.0.{i}", site=site)
        for i, site in enumerate(["default"] * 5 + ["north"] * 2)
    )


@pytest.fixture
def points(devices):
    return BACnetPoint.objects.bulk_create(
        BACnetPoint(device=devices[0], object_type="analog-value", instance=i) for i in range(12)
    )


def test_without_paging_every_device_comes_as_before(client, devices, viewer_token):
    response = client.get("/api/devices", **bearer(viewer_token))
    assert [d["id"] for d in response.json()] == [d.id for d in devices]
    assert response["X-Total-Count"] == "7"


def test_limit_and_offset_give_a_slice_and_the_total(client, devices, viewer_token):
    response = client.get("/api/devices?limit=2&offset=3", **bearer(viewer_token))
    assert [d["id"] for d in response.json()] == [devices[3].id, devices[4].id]
    assert response["X-Total-Count"] == "7"
    north = client.get("/api/devices?site=north&limit=1&offset=1", **bearer(viewer_token))
    assert [d["id"] for d in north.json()] == [devices[6].id]
    assert north["X-Total-Count"] == "2"
    past_the_end = client.get("/api/devices?offset=50", **bearer(viewer_token))
    assert (past_the_end.json(), past_the_end["X-Total-Count"]) == ([], "7")


def test_a_devices_points_come_in_pages(client, points, viewer_token):
    url = f"/api/devices/{points[0].device_id}/points"
    pages = [
        client.get(f"{url}?limit=5&offset={start}", **bearer(viewer_token)) for start in (0, 5, 10)
    ]
    assert [[p["instance"] for p in page.json()] for page in pages] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
        [10, 11],
    ]
    assert {page["X-Total-Count"] for page in pages} == {"12"}
    everything = client.get(url, **bearer(viewer_token))
    assert len(everything.json()) == 12


@pytest.mark.parametrize(
    "query",
    ["limit=0", f"limit={MAX_LIMIT + 1}", "offset=-1", f"offset={MAX_OFFSET + 1}", "limit=x"],
)
def test_a_limit_or_offset_out_of_bounds_is_422(client, points, viewer_token, query):
    for url in ("/api/devices", f"/api/devices/{points[0].device_id}/points"):
        response = client.get(f"{url}?{query}", **bearer(viewer_token))
        assert response.status_code == 422, (url, query)


def test_a_page_never_holds_more_than_the_most_a_limit_allows(client, devices, viewer_token):
    BACnetPoint.objects.bulk_create(
        BACnetPoint(device=devices[1], object_type="analog-value", instance=i)
        for i in range(MAX_LIMIT + 3)
    )
    response = client.get(f"/api/devices/{devices[1].id}/points", **bearer(viewer_token))
    assert len(response.json()) == MAX_LIMIT
    assert response["X-Total-Count"] == str(MAX_LIMIT + 3)


def test_the_schema_documents_the_paging_and_the_total(client, viewer_token):
    schema = client.get("/api/openapi.json", **bearer(viewer_token)).json()
    for path in ("/api/devices", "/api/devices/{device_pk}/points"):
        operation = schema["paths"][path]["get"]
        assert {"limit", "offset"} <= {p["name"] for p in operation["parameters"]}
        assert "X-Total-Count" in operation["responses"]["200"]["headers"]
