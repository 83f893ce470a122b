"""Sites on the pages: discovery is queued for the site the operator picks (from the sites of
workers and devices, BACNET_SITE first and by default), work on a device goes to the device's
site, an unknown site queues nothing, and task lists show sites once there are several."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from bms.devices.models import BACnetDevice
from bms.tasks import queue
from bms.tasks.models import BACnetTask, WorkerHeartbeat

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def site_options(html: str) -> list[str]:
    select = re.search(r'<select name="site"[^>]*>(.*?)</select>', html, re.S)
    assert select, "the discovery form has no site choice"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_discovery_offers_the_sites_of_workers_and_devices_with_the_default_first(
    operator_client, north
):
    BACnetDevice.objects.create(site="east", device_instance=7, address="10.2.0.7")
    WorkerHeartbeat.objects.create(
        worker_id="west-1", site="west", heartbeat_at="2020-01-01T00:00Z"
    )
    html = operator_client.get(reverse("web:devices")).content.decode()
    assert site_options(html) == ["default", "east", "north", "west"]
    assert '<option value="default" selected>' in html


def test_a_site_without_a_live_worker_says_its_task_will_wait(operator_client, north):
    BACnetDevice.objects.create(site="east", device_instance=7, address="10.2.0.7")
    html = operator_client.get(reverse("web:devices")).content.decode()
    assert "east (no worker alive: the task waits)" in html
    assert ">north</option>" in html


def test_discovery_is_queued_for_the_chosen_site(operator_client, north):
    response = operator_client.post(reverse("web:discover"), {"site": "north"}, **JSON)
    assert response.status_code == 202
    body = response.json()
    assert body["site"] == "north"
    assert "for site north" in body["message"]
    assert BACnetTask.objects.get(id=body["task_id"]).site == "north"


def test_discovery_without_a_site_goes_to_bacnet_site(operator_client, north, settings):
    settings.BACNET_SITE = "hq"
    response = operator_client.post(reverse("web:discover"), {"low": "", "site": ""}, **JSON)
    assert response.status_code == 202
    assert BACnetTask.objects.get().site == "hq"


@pytest.mark.parametrize("site", ["nowhere", "bad site!", "../north", "n" * 101])
def test_an_unknown_or_ill_formed_site_is_a_400_and_queues_nothing(operator_client, north, site):
    by_fetch = operator_client.post(reverse("web:discover"), {"site": site}, **JSON)
    by_form = operator_client.post(reverse("web:discover"), {"site": site})  # no JavaScript
    assert (by_fetch.status_code, by_form.status_code) == (400, 400)
    assert by_fetch.json()["error"].startswith("Site: there is no site")
    assert b"there is no site" in by_form.content
    assert not BACnetTask.objects.exists()


def test_reads_collects_and_writes_of_a_device_go_to_its_site(operator_client, north):
    device, ao = north["device"], north["ao"]
    posts = [
        (reverse("web:read_points", args=[device.id]), {}),
        (reverse("web:collect", args=[device.id]), {}),
        (reverse("web:point_write", args=[ao.id]), {"value": "30", "priority": "8"}),
    ]
    for url, data in posts:
        response = operator_client.post(url, data, **JSON)
        assert response.status_code == 202, response.content
    tasks = BACnetTask.objects.order_by("id")
    assert [(t.task_type, t.site) for t in tasks] == [
        ("read_points", "north"),
        ("collect", "north"),
        ("write_point", "north"),
    ]


def test_a_device_of_the_default_site_keeps_the_default_site(operator_client, building, north):
    response = operator_client.post(
        reverse("web:read_points", args=[building["device"].id]), **JSON
    )
    assert BACnetTask.objects.get(id=response.json()["task_id"]).site == "default"


def test_a_docker_install_sends_the_task_to_the_chosen_sites_celery_queue(
    operator_client, north, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from bms.celery import app

    sent: list[tuple[list[int], str]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: sent.append((args, queue)))
    settings.BACNET_BACKEND = "docker"
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(reverse("web:discover"), {"site": "north"}, **JSON)
    assert sent == [([response.json()["task_id"]], "bacnet.north")]


def test_task_lists_show_no_site_column_with_one_site(viewer_client, building):
    for url in (reverse("web:tasks"), reverse("web:devices")):
        html = viewer_client.get(url).content.decode()
        assert "<th>Site</th>" not in html, url
        assert "data-show-site" not in html, url


def test_task_lists_show_each_tasks_site_with_several_sites(viewer_client, building, north):
    north_task = queue.enqueue("collect", {}, site="north")
    for url in (reverse("web:tasks"), reverse("web:devices")):
        html = viewer_client.get(url).content.decode()
        assert "<th>Site</th>" in html, url
        assert "data-show-site" in html, url
        row = re.search(rf'<tr data-task-id="{north_task.id}">(.*?)</tr>', html, re.S)
        assert row, url
        assert '<td class="site">north</td>' in row.group(1), url
    detail = viewer_client.get(reverse("web:task", args=[north_task.id])).content.decode()
    assert "<dt>Site</dt><dd>north</dd>" in detail


def test_a_task_queued_for_a_site_nobody_knows_still_shows_its_site(viewer_client, building):
    # bms bacnet_task with a mistyped BACNET_SITE: the task waits, and the list says where.
    queue.enqueue("discover", {}, site="nrth")
    html = viewer_client.get(reverse("web:tasks")).content.decode()
    assert '<td class="site">nrth</td>' in html


def test_the_task_list_filters_by_site(viewer_client, building, north):
    north_task = queue.enqueue("collect", {}, site="north")
    html = viewer_client.get(reverse("web:tasks"), {"site": "north"}).content.decode()
    assert re.findall(r'<tr data-task-id="(\d+)"', html) == [str(north_task.id)]
    assert '<option value="north" selected>' in html
    everything = viewer_client.get(reverse("web:tasks"), {"site": "bogus"}).content.decode()
    assert len(re.findall(r'<tr data-task-id="', everything)) == 2


def test_device_pages_list_only_the_tasks_of_their_own_site(viewer_client, building, north):
    north_read = queue.enqueue("read_points", {"device_id": 1001}, site="north")
    default_read = queue.enqueue("read_points", {"device_id": 1001})
    html = viewer_client.get(reverse("web:device", args=[north["device"].id])).content.decode()
    assert re.findall(r'<tr data-task-id="(\d+)"', html) == [str(north_read.id)]
    assert f'data-task-id="{default_read.id}"' not in html
    assert "<dt>Site</dt><dd>north</dd>" in html


def device_rows(html: str) -> dict[str, str]:
    """Each device row's id and its site cell ("" when the row has none)."""
    rows = re.findall(r'<tr data-device-id="(\d+)"[^>]*>(.*?)</tr>', html, re.S)
    return {
        pk: (re.findall(r'<td class="site">([^<]*)</td>', cells) or [""])[0] for pk, cells in rows
    }


def test_the_devices_table_has_no_site_column_with_one_site(viewer_client, building):
    html = viewer_client.get(reverse("web:devices")).content.decode()
    assert device_rows(html) == {str(building["device"].id): ""}
    assert '<select name="site">' not in html  # no filter either


def test_the_devices_table_shows_each_devices_site_with_several_sites(
    viewer_client, building, north
):
    html = viewer_client.get(reverse("web:devices")).content.decode()
    assert device_rows(html) == {
        str(building["device"].id): "default",
        str(north["device"].id): "north",
    }
    table = re.search(r'<table class="grid" id="device-table"[^>]*>', html)
    assert table
    assert "data-show-site" in table.group(0)  # live.js adds the cell to new rows


def test_the_devices_page_filters_its_devices_and_tasks_by_site(viewer_client, building, north):
    north_task = queue.enqueue("collect", {}, site="north")
    html = viewer_client.get(reverse("web:devices"), {"site": "north"}).content.decode()
    assert device_rows(html) == {str(north["device"].id): "north"}
    assert re.findall(r'<tr data-task-id="(\d+)"', html) == [str(north_task.id)]
    assert '<option value="north" selected>' in html
    assert 'id="device-table" data-filter-site="north"' in html  # live rows of other sites stay out
    everything = viewer_client.get(reverse("web:devices"), {"site": "bogus"}).content.decode()
    assert len(device_rows(everything)) == 2
    assert len(re.findall(r'<tr data-task-id="', everything)) == 2
