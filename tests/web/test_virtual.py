"""Virtual device pages: create from a template, edit, start/stop, delete; roles enforced."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from bms.devices.models import WriteAudit
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

pytestmark = pytest.mark.django_db


def test_an_operator_creates_a_virtual_device_from_a_template(operator_client):
    response = operator_client.post(
        reverse("web:virtual_create"),
        {
            "device_id": "3001",
            "device_name": "Lights east",
            "description": "",
            "template": "lighting_controller",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:virtual", args=[3001])
    device = VirtualBACnetDevice.objects.get(device_id=3001)
    assert device.virtual_objects.count() == 2


def test_a_duplicate_device_id_is_refused_with_a_reason(operator_client, building):
    response = operator_client.post(
        reverse("web:virtual_create"),
        {"device_id": "2001", "device_name": "again", "template": "hvac_controller"},
    )
    assert response.status_code == 400
    assert b"already exists" in response.content
    assert VirtualBACnetDevice.objects.get(device_id=2001).device_name == "Virtual AHU"


def test_an_unknown_template_is_refused(operator_client, db):
    response = operator_client.post(
        reverse("web:virtual_create"),
        {"device_id": "3002", "device_name": "x", "template": "toaster"},
    )
    assert response.status_code == 400
    assert not VirtualBACnetDevice.objects.exists()


def test_viewers_cannot_open_the_create_or_edit_forms(viewer_client, building):
    assert viewer_client.get(reverse("web:virtual_create")).status_code == 403
    assert viewer_client.get(reverse("web:virtual_edit", args=[2001])).status_code == 403
    response = viewer_client.post(
        reverse("web:virtual_edit", args=[2001]), {"device_name": "hijack"}
    )
    assert response.status_code == 403
    assert VirtualBACnetDevice.objects.get(device_id=2001).device_name == "Virtual AHU"


def test_an_operator_renames_a_virtual_device(operator_client, building):
    url = reverse("web:virtual_edit", args=[2001])
    assert operator_client.get(url).status_code == 200
    response = operator_client.post(url, {"device_name": "AHU north", "description": "d"})
    assert response.status_code == 302
    assert VirtualBACnetDevice.objects.get(device_id=2001).device_name == "AHU north"


def test_an_empty_name_is_refused(operator_client, building):
    response = operator_client.post(reverse("web:virtual_edit", args=[2001]), {"device_name": ""})
    assert response.status_code == 400


def test_stop_and_start_flip_is_running(operator_client, building):
    operator_client.post(reverse("web:virtual_stop", args=[2001]))
    assert not VirtualBACnetDevice.objects.get(device_id=2001).is_running
    operator_client.post(reverse("web:virtual_start", args=[2001]))
    assert VirtualBACnetDevice.objects.get(device_id=2001).is_running


def test_delete_removes_the_device_and_its_objects(operator_client, building):
    response = operator_client.post(reverse("web:virtual_delete", args=[2001]))
    assert response["Location"] == reverse("web:virtual_list")
    assert not VirtualBACnetDevice.objects.filter(device_id=2001).exists()


def test_unknown_virtual_devices_are_404(operator_client, db):
    assert operator_client.get(reverse("web:virtual", args=[9])).status_code == 404
    assert operator_client.post(reverse("web:virtual_delete", args=[9])).status_code == 404


def test_external_writes_say_whether_they_were_accepted_or_refused_and_why(viewer_client, building):
    damper = VirtualObject.objects.get(device__device_id=2001, name="Damper_Position")
    for value, accepted, reason in [
        (35.0, True, ""),
        (150.0, False, "property: value-out-of-range"),
        (-5.0, False, "property: value-out-of-range"),
    ]:
        WriteAudit.objects.create(
            source="bacnet",
            who="127.0.0.9:47808",
            object_ref=f"{damper.object_type},{damper.instance}",
            virtual_object=damper,
            property="present-value",
            new_value=value,
            priority=8,
            accepted=accepted,
            reason=reason,
        )
    page = viewer_client.get(reverse("web:virtual", args=[2001])).content.decode()
    log = page[page.index('id="write-log"') :]
    assert "<th>Result</th>" in log
    rows = re.findall(r'<tr><td class="time">.*?</tr>', log, re.S)
    results = [" ".join(re.sub(r"<[^>]+>", " ", row.split("<td>")[-1]).split()) for row in rows]
    assert results == [
        "refused property: value-out-of-range",
        "refused property: value-out-of-range",
        "accepted",
    ]
