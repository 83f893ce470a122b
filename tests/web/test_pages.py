"""Pages: sign-in required, every page renders for a viewer, nothing loads from elsewhere."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from bms.devices.models import BACnetDevice
from bms.tasks import queue

pytestmark = pytest.mark.django_db


def page_urls(building: dict) -> list[str]:
    return [
        reverse("web:devices"),
        reverse("web:device", args=[building["device"].id]),
        reverse("web:point", args=[building["ai"].id]),
        reverse("web:tasks"),
        reverse("web:task", args=[building["task"].id]),
        reverse("web:audit"),
        reverse("web:virtual_list"),
        reverse("web:virtual", args=[2001]),
        reverse("web:virtual_object", args=[building["virtual"].virtual_objects.first().id]),
        reverse("api:openapi-view"),
        reverse("web:tokens"),
    ]


def test_anonymous_visitors_are_sent_to_sign_in_from_every_page(building):
    client = Client()
    for url in page_urls(building):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_viewer_sees_every_page(viewer_client, building):
    for url in page_urls(building):
        assert viewer_client.get(url).status_code == 200, url


def test_the_root_redirects_to_devices(viewer_client):
    assert viewer_client.get("/")["Location"] == reverse("web:devices")


def test_pages_load_nothing_from_other_sites(viewer_client, building):
    for url in page_urls(building):
        html = viewer_client.get(url).content.decode()
        external = re.findall(r'(?:src|href)="(?:https?:)?//[^"]+"', html)
        assert external == [], (url, external)


def test_the_devices_page_shows_backend_status_devices_and_recent_tasks(viewer_client, building):
    html = viewer_client.get(reverse("web:devices")).content.decode()
    assert "native" in html
    assert "BACNET_BACKEND=native" in html
    assert "none" in html  # no worker alive
    assert f'data-device-id="{building["device"].id}"' in html
    assert f'data-task-id="{building["task"].id}"' in html
    assert 'data-groups="tasks,devices"' in html


def test_the_devices_page_counts_devices_online_devices_and_points(viewer_client, building):
    BACnetDevice.objects.create(device_instance=1002, address="127.0.0.3", online=False)
    html = viewer_client.get(reverse("web:devices")).content.decode()
    counts = re.search(r'<p class="muted" id="device-counts"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert " ".join(re.sub(r"<[^>]+>", " ", counts).split()) == (
        "Known devices: 2 · online 1 · points 4"
    )


@pytest.mark.parametrize(
    ("registration", "badge"), [("registered", "completed"), ("pending", "failed")]
)
def test_the_devices_page_shows_each_workers_address_and_bbmd_registration(
    viewer_client,
    registration,
    badge,
):
    queue.worker_heartbeat("plain", "default", bacnet_address="127.0.0.1/8:47808")
    queue.worker_heartbeat(
        "foreign",
        "default",
        bacnet_address="10.1.1.20/24:47808",
        bbmd="10.1.2.1",
        bbmd_registration=registration,
    )
    html = viewer_client.get(reverse("web:devices")).content.decode()
    assert "BACnet 127.0.0.1/8:47808" in html
    assert "BACnet 10.1.1.20/24:47808" in html
    assert html.count("data-bbmd-registration") == 1  # only the foreign device has a BBMD
    assert (
        f'BBMD 10.1.2.1</span> <span class="badge {badge}" data-bbmd-registration>'
        f"{registration}</span>"
    ) in html


def test_a_viewer_gets_no_command_forms(viewer_client, building):
    html = viewer_client.get(reverse("web:device", args=[building["device"].id])).content
    assert b'name="priority"' not in html
    assert b"need the operator role" in html


def test_an_operator_gets_write_forms_only_for_commandable_points(operator_client, building):
    html = operator_client.get(reverse("web:device", args=[building["device"].id])).content
    assert html.count(b'name="priority"') == 3  # AO, BO, MSV; not the AI


def test_the_task_list_filters_by_type_and_status(viewer_client, building):
    from bms.tasks import queue

    collect = queue.enqueue("collect", {"device_ids": None})
    html = viewer_client.get(reverse("web:tasks") + "?type=collect").content.decode()
    assert f'data-task-id="{collect.id}"' in html
    assert f'data-task-id="{building["task"].id}"' not in html
    html = viewer_client.get(reverse("web:tasks") + "?status=completed").content.decode()
    assert "data-task-id=" not in html


def test_the_virtual_device_page_shows_present_values_and_priority_arrays(viewer_client, building):
    html = viewer_client.get(reverse("web:virtual", args=[2001])).content.decode()
    assert "Virtual_2001_Damper_Position" in html
    assert "none (relinquish default)" in html


def test_static_files_are_served(viewer_client):
    for name in ("app.css", "live.js", "trend.js"):
        response = viewer_client.get(f"/static/web/{name}")
        assert response.status_code == 200, name
        assert b"".join(response.streaming_content), name
        response.close()


def test_signing_in_needs_the_csrf_token(viewer):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "vera", "password": "x"})
    assert response.status_code == 403


def test_signing_in_with_the_right_password_opens_the_devices_page(viewer):
    from tests.web.fixtures import PASSWORD

    client = Client()
    response = client.post(reverse("login"), {"username": "vera", "password": PASSWORD})
    assert response["Location"] == reverse("web:devices")
    assert client.get(reverse("web:devices")).status_code == 200
