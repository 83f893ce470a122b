"""The devices page and a device's point table come a page at a time: a site of hundreds of
devices and tens of thousands of points is not one page. Page links keep the filters and the
sort; the counts above the device table are of every device found, on any page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.web.views.devices import PAGE_SIZE, POINT_PAGE_SIZE

pytestmark = pytest.mark.django_db

MORE = 7  # devices (or points) past the first page


def add_devices(count: int, first: int = 5000, site: str = "default", **fields) -> list:
    return BACnetDevice.objects.bulk_create(
        BACnetDevice(device_instance=first + i, address=f"10.0.0.{i % 250}", site=site, **fields)
        for i in range(count)
    )


def device_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-device-id="(\d+)"', html)]


def counts(html: str) -> str:
    shown = re.search(r'id="device-counts"[^>]*>(.*?)</p>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", shown).split())


def pager_links(html: str) -> list[str]:
    pager = re.search(r'<nav class="pager">(.*?)</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', pager.group(1)) if pager else []


def test_the_first_page_shows_page_size_devices_and_the_second_the_rest(viewer_client):
    devices = add_devices(PAGE_SIZE + MORE)
    first = viewer_client.get(reverse("web:devices")).content.decode()
    assert device_ids(first) == [d.id for d in devices[:PAGE_SIZE]]
    assert pager_links(first) == ["?page=2"]
    assert "page 1 of 2" in first
    assert "{#" not in first  # a template comment stays one
    second = viewer_client.get(reverse("web:devices"), {"page": 2}).content.decode()
    assert device_ids(second) == [d.id for d in devices[PAGE_SIZE:]]
    assert pager_links(second) == ["?page=1"]


def test_a_short_list_has_no_pager(viewer_client):
    add_devices(3)
    html = viewer_client.get(reverse("web:devices")).content.decode()
    assert len(device_ids(html)) == 3
    assert 'class="pager"' not in html


def test_page_links_keep_the_search_site_state_and_sort(viewer_client):
    add_devices(PAGE_SIZE + MORE, site="north", name="AHU", online=False)
    add_devices(5, site="south", name="AHU", online=False)  # another site: not counted
    params = {"q": "AHU", "site": "north", "state": "offline", "sort": "-name"}
    first = viewer_client.get(reverse("web:devices"), params).content.decode()
    assert len(device_ids(first)) == PAGE_SIZE
    (link,) = pager_links(first)
    assert link == "?q=AHU&amp;site=north&amp;state=offline&amp;sort=-name&amp;page=2"
    second = viewer_client.get(reverse("web:devices"), {**params, "page": 2}).content.decode()
    assert len(device_ids(second)) == MORE
    # A sort header starts the new order on its first page, keeping the filters.
    assert 'href="?q=AHU&amp;site=north&amp;state=offline&amp;sort=name"' in second


def test_the_counts_are_of_every_device_found_not_of_the_page(viewer_client):
    online = add_devices(PAGE_SIZE, online=True)
    offline = add_devices(MORE, first=9000, online=False)
    BACnetPoint.objects.bulk_create(  # all on devices of the second page
        BACnetPoint(device=device, object_type="analog-value", instance=i)
        for device in offline
        for i in range(3)
    )
    BACnetPoint.objects.create(device=online[0], object_type="analog-input", instance=1)
    first = viewer_client.get(reverse("web:devices")).content.decode()
    total = PAGE_SIZE + MORE
    assert counts(first) == f"Known devices: {total} · online {PAGE_SIZE} · points {3 * MORE + 1}"
    found = viewer_client.get(reverse("web:devices"), {"state": "offline"}).content.decode()
    assert counts(found) == f"Known devices: {MORE} · online 0 · points {3 * MORE}"


def test_the_counts_take_as_many_queries_for_many_devices_as_for_few(viewer_client):
    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(reverse("web:devices")).status_code == 200
        return len(queries)

    add_devices(PAGE_SIZE + 1)
    few = queries_for_the_page()
    add_devices(3 * PAGE_SIZE, first=20000)
    assert queries_for_the_page() == few


def test_the_devices_found_are_counted_once_for_the_counts_and_the_pager(viewer_client):
    add_devices(PAGE_SIZE + MORE)
    with CaptureQueriesContext(connection) as queries:
        html = viewer_client.get(reverse("web:devices")).content.decode()
    device_counts = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT COUNT")
        and '"devices_bacnetdevice"' in q["sql"].split("WHERE")[0]
    ]
    # One: the totals' aggregate. The pager reuses it rather than counting the page's query
    # again (a COUNT over the devices joined to every point, for their point counts).
    assert len(device_counts) == 1, device_counts
    assert device_counts[0].startswith('SELECT COUNT("devices_bacnetdevice"."id")')
    assert "page 1 of 2" in html


@pytest.mark.parametrize(
    ("page", "shown"),
    [("x", 1), ("", 1), ("0", 2), ("-1", 2), ("999", 2), ("9" * 40, 2), ("1.5", 1)],
)
def test_a_page_that_is_not_there_shows_the_first_or_the_last(viewer_client, page, shown):
    add_devices(PAGE_SIZE + MORE)
    response = viewer_client.get(reverse("web:devices"), {"page": page})
    assert response.status_code == 200
    assert f"page {shown} of 2" in response.content.decode()


def point_ids(html: str) -> list[int]:
    table = html.split('id="point-table"', 1)[1]
    return [int(found) for found in re.findall(r'<tr data-point-id="(\d+)"', table)]


def test_a_devices_point_table_comes_in_pages_that_keep_its_filters(viewer_client):
    (device,) = add_devices(1)
    points = BACnetPoint.objects.bulk_create(
        BACnetPoint(device=device, object_type="analog-value", instance=i, name=f"Zone {i:04}")
        for i in range(POINT_PAGE_SIZE + MORE)
    )
    BACnetPoint.objects.create(device=device, object_type="binary-value", instance=1, name="Zone")
    url = reverse("web:device", args=[device.id])
    params = {"type": "analog-value", "q": "zone", "sort": "name"}
    first = viewer_client.get(url, params).content.decode()
    assert point_ids(first) == [p.id for p in points[:POINT_PAGE_SIZE]]
    assert f"({POINT_PAGE_SIZE + MORE} of {POINT_PAGE_SIZE + MORE + 1})" in first
    assert pager_links(first) == ["?type=analog-value&amp;q=zone&amp;sort=name&amp;page=2"]
    second = viewer_client.get(url, {**params, "page": 2}).content.decode()
    assert point_ids(second) == [p.id for p in points[POINT_PAGE_SIZE:]]
    assert viewer_client.get(url, {"page": "nonsense"}).status_code == 200
