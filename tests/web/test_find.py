"""Finding things: point search across devices, filters and sorts as GET parameters (stable
URLs, no JS needed), pages, and the site > device > object tree."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bms.devices.models import BACnetDevice, BACnetPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_device(building):
    device = BACnetDevice.objects.create(device_instance=1002, address="127.0.0.3", name="AHU-2")
    BACnetPoint.objects.create(
        device=device,
        object_type="binary-output",
        instance=4,
        name="Exhaust",
        description="Supply fan of the kitchen",
        commandable=True,
    )
    return device


def result_ids(response):
    html = response.content.decode()
    return [int(part.split('"')[0]) for part in html.split('data-point-id="')[1:]]


def test_search_finds_points_by_name_or_description_across_devices(
    viewer_client, building, second_device
):
    response = viewer_client.get(reverse("web:point_search"), {"q": "fan"})
    ids = result_ids(response)
    exhaust = BACnetPoint.objects.get(name="Exhaust")
    assert set(ids) == {building["bo"].id, exhaust.id}  # "Fan" by name, "Exhaust" by description
    assert "2 points" in response.content.decode()


def test_search_filters_by_type_and_commandable(viewer_client, building, second_device):
    outputs = viewer_client.get(reverse("web:point_search"), {"type": "analog-output"})
    assert result_ids(outputs) == [building["ao"].id]
    inputs = viewer_client.get(reverse("web:point_search"), {"commandable": "no"})
    assert result_ids(inputs) == [building["ai"].id]


def test_a_sort_header_sorts_and_a_second_click_reverses(viewer_client, building, second_device):
    by_name = result_ids(viewer_client.get(reverse("web:point_search"), {"sort": "name"}))
    names = list(BACnetPoint.objects.in_bulk(by_name).values())
    assert [BACnetPoint.objects.get(id=i).name for i in by_name] == sorted(p.name for p in names)
    html = viewer_client.get(reverse("web:point_search"), {"sort": "name", "q": "a"}).content
    assert b'href="?sort=-name&amp;q=a"' in html or b'href="?q=a&amp;sort=-name"' in html
    descending = result_ids(viewer_client.get(reverse("web:point_search"), {"sort": "-name"}))
    assert descending == by_name[::-1]


def test_bad_parameters_fall_back_instead_of_failing(viewer_client, building):
    for params in (
        {"sort": "password"},
        {"type": "nonsense"},
        {"page": "999"},
        {"page": "x"},
        {"q": "a\x00b"},
        {"commandable": "maybe"},
    ):
        assert viewer_client.get(reverse("web:point_search"), params).status_code == 200, params
    assert viewer_client.get(reverse("web:tree"), {"device": "9" * 40}).status_code == 200


def test_results_come_in_pages_whose_links_keep_the_filters(viewer_client, building):
    device = building["device"]
    BACnetPoint.objects.bulk_create(
        BACnetPoint(device=device, object_type="analog-value", instance=i, name=f"Sensor {i}")
        for i in range(150)
    )
    first = viewer_client.get(reverse("web:point_search"), {"q": "sensor"})
    assert len(result_ids(first)) == 100
    assert b'href="?q=sensor&amp;page=2"' in first.content
    second = viewer_client.get(reverse("web:point_search"), {"q": "sensor", "page": 2})
    assert len(result_ids(second)) == 50


def test_the_tree_opens_a_site_then_a_device_then_lists_its_objects(
    viewer_client, building, second_device
):
    sites = viewer_client.get(reverse("web:tree")).content.decode()
    # One site: it is open, with its devices, and no device's objects yet.
    assert f'data-device-id="{building["device"].id}"' in sites
    assert f'data-device-id="{second_device.id}"' in sites
    assert "data-point-id" not in sites
    opened = viewer_client.get(
        reverse("web:tree"), {"site": "default", "device": building["device"].id}
    ).content.decode()
    for name in ("ai", "ao", "bo", "msv"):
        assert f'data-point-id="{building[name].id}"' in opened
    assert "Exhaust" not in opened


def device_ids(response):
    html = response.content.decode()
    return [int(part.split('"')[0]) for part in html.split('<tr data-device-id="')[1:]]


def test_the_device_table_is_found_filtered_and_sorted_by_url(
    viewer_client, building, second_device
):
    first = building["device"]
    found = viewer_client.get(reverse("web:devices"), {"q": "AHU-2"})
    assert device_ids(found) == [second_device.id]
    assert device_ids(viewer_client.get(reverse("web:devices"), {"q": "1001"})) == [first.id]
    BACnetDevice.objects.filter(id=first.id).update(online=False)
    offline = viewer_client.get(reverse("web:devices"), {"state": "offline"})
    assert device_ids(offline) == [first.id]
    by_name = viewer_client.get(reverse("web:devices"), {"sort": "-name"})
    assert device_ids(by_name) == [second_device.id, first.id]
    assert b'href="?sort=name"' in by_name.content  # a second click sorts the other way


def test_the_device_pages_point_table_filters_and_sorts(viewer_client, building):
    url = reverse("web:device", args=[building["device"].id])
    outputs = viewer_client.get(url, {"type": "binary-output"}).content.decode()
    assert result_ids_in(outputs) == [building["bo"].id]
    assert "(1 of 4)" in outputs
    by_name = result_ids_in(viewer_client.get(url, {"sort": "-name"}).content.decode())
    names = [BACnetPoint.objects.get(id=i).name for i in by_name]
    assert names == sorted(names, reverse=True)


def result_ids_in(html):
    table = html.split('id="point-table"', 1)[1]
    return [int(part.split('"')[0]) for part in table.split('<tr data-point-id="')[1:]]
