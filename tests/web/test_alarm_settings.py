"""Alarm configuration pages (bms.web.views.alarm_settings): notification classes created,
edited and deleted by an operator through the service (its refusals shown, nothing stored), and
a virtual object's alarm settings saved; viewers read but cannot change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bms.virtual import services
from bms.virtual.models import NotificationClass, VirtualObject

pytestmark = pytest.mark.django_db

CLASS = {
    "instance": "12",
    "name": "Plant",
    "priority_to_offnormal": "20",
    "priority_to_fault": "30",
    "priority_to_normal": "200",
    "ack_required": ["0", "1"],
    "recipients": '[{"process_id": 4, "device": 9001, "confirmed": true}]',
}


def test_an_operator_creates_then_edits_then_deletes_a_notification_class(operator_client):
    created = operator_client.post(reverse("web:notification_class_create"), CLASS)
    assert created.status_code == 302
    row = NotificationClass.objects.get(instance=12)
    assert (row.priority_to_offnormal, row.ack_required) == (20, [True, True, False])
    assert row.recipients[0]["device"] == 9001

    edited = operator_client.post(
        reverse("web:notification_class", args=[12]),
        {**CLASS, "name": "Plant room", "recipients": ""},
    )
    assert edited.status_code == 302
    row.refresh_from_db()
    assert (row.name, row.recipients) == ("Plant room", [])

    page = operator_client.get(reverse("web:notification_classes")).content.decode()
    assert 'data-class="12"' in page
    operator_client.post(reverse("web:notification_class_delete", args=[12]))
    assert not NotificationClass.objects.filter(instance=12).exists()


def test_a_class_the_spec_refuses_shows_the_reason_and_stores_nothing(operator_client):
    bad = {**CLASS, "recipients": '[{"process_id": 1}]'}  # neither device nor address
    answer = operator_client.post(reverse("web:notification_class_create"), bad)
    assert answer.status_code == 400
    assert 'class="error"' in answer.content.decode()
    assert not NotificationClass.objects.filter(instance=12).exists()


def test_recipients_that_are_not_json_are_refused_by_the_form(operator_client):
    answer = operator_client.post(
        reverse("web:notification_class_create"), {**CLASS, "recipients": "{"}
    )
    assert answer.status_code == 400
    assert "not JSON" in answer.content.decode()


def test_a_viewer_reads_classes_but_cannot_change_them(viewer_client, operator_client):
    operator_client.post(reverse("web:notification_class_create"), CLASS)
    assert viewer_client.get(reverse("web:notification_class", args=[12])).status_code == 200
    changed = viewer_client.post(
        reverse("web:notification_class", args=[12]), {**CLASS, "name": "X"}
    )
    assert changed.status_code == 403
    assert NotificationClass.objects.get(instance=12).name == "Plant"


def test_an_operator_saves_a_virtual_ai_alarm_settings(operator_client):
    device = services.create_virtual_device(3501, "Room", template="temperature_sensor")
    obj = VirtualObject.objects.get(device=device, name="Temperature")
    NotificationClass.objects.get_or_create(instance=1, defaults={"name": "Default"})
    url = reverse("web:object_alarm", args=[obj.pk])
    assert "High limit" in operator_client.get(url).content.decode()
    answer = operator_client.post(
        url,
        {
            "notification_class": "1",
            "high_limit": "28.5",
            "low_limit": "",
            "deadband": "0.5",
            "time_delay": "3",
            "time_delay_normal": "",
            "alarm_values": "",
            "event_enable": ["0", "2"],
            "notify_type": "alarm",
        },
    )
    assert answer.status_code == 302
    obj.refresh_from_db()
    assert (obj.notification_class, obj.high_limit, obj.low_limit, obj.deadband) == (
        1,
        28.5,
        None,
        0.5,
    )
    assert (obj.time_delay, obj.event_enable) == (3, [True, False, True])


def test_alarm_settings_the_spec_refuses_show_the_reason(operator_client):
    device = services.create_virtual_device(3502, "Room", template="temperature_sensor")
    obj = VirtualObject.objects.get(device=device, name="Temperature")
    NotificationClass.objects.get_or_create(instance=1, defaults={"name": "Default"})
    before = (obj.high_limit, obj.low_limit)
    answer = operator_client.post(
        reverse("web:object_alarm", args=[obj.pk]),
        {"notification_class": "1", "high_limit": "10", "low_limit": "20", "deadband": "0",
         "time_delay": "0", "event_enable": ["0"], "notify_type": "alarm"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert 'class="error"' in answer.content.decode()
    obj.refresh_from_db()
    assert (obj.high_limit, obj.low_limit) == before
