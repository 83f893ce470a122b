"""Alarm settings of virtual objects and notification classes through the domain services:
checked by the one set of rules (bms.bacnet.local.alarm_spec) before anything is stored."""

from __future__ import annotations

import pytest

from bms.profiles import services as profiles
from bms.profiles.definitions import ObjectDefinition
from bms.virtual import services
from bms.virtual.models import NotificationClass, VirtualBACnetDevice, VirtualObject
from bms.virtual.notification_classes import (
    create_notification_class,
    delete_notification_class,
    update_notification_class,
)
from bms.virtual.specs import notification_class_spec, spec_for

pytestmark = pytest.mark.django_db


def test_the_temperature_template_alarms_through_the_default_class():
    device = services.create_virtual_device(3101, "Room 12", template="temperature_sensor")
    temperature = VirtualObject.objects.get(device=device, name="Temperature")
    alarm = spec_for(temperature).alarm
    assert alarm is not None
    assert (alarm.high_limit, alarm.low_limit, alarm.notification_class) == (30.0, 15.0, 1)
    assert NotificationClass.objects.filter(instance=1).exists()
    humidity = VirtualObject.objects.get(device=device, name="Humidity")
    assert spec_for(humidity).alarm is None


def alarming(name: str, notification_class: int) -> ObjectDefinition:
    return ObjectDefinition(
        "analog-input", name, default=20.0, notification_class=notification_class, high_limit=30.0
    )


def test_the_classes_a_profiles_alarms_name_are_created_with_its_device():
    create_notification_class(7, "Plant room", recipients=[{"process_id": 3, "device": 9001}])
    create_notification_class(12, "Alarms 9")  # the name class 9 would be given
    objects = [alarming("T1", 7), alarming("T2", 9), alarming("T3", 9), alarming("T4", 1)]
    profiles.create_profile("Plant", "", [*objects, ObjectDefinition("analog-value", "SP")])

    device = services.create_virtual_device(3110, "Plant 1", template="Plant")
    classes = {row.instance: row for row in NotificationClass.objects.all()}
    assert set(classes) == {1, 7, 9, 12}
    assert (classes[1].name, classes[9].name) == ("Alarms", "Alarms 9 (2)")
    assert classes[9].recipients == []  # an operator adds who is told
    assert classes[7].name == "Plant room"  # an existing class is left as it is
    assert classes[7].recipients[0]["device"] == 9001
    # Every alarming object's class is served, so each is a choice on its settings page.
    named = VirtualObject.objects.filter(device=device).exclude(notification_class=None)
    assert {row.notification_class for row in named} <= set(classes)

    services.create_virtual_device(3111, "Plant 2", template="Plant")
    assert NotificationClass.objects.count() == 4  # nothing made twice


def test_limits_that_cross_are_refused_and_nothing_is_stored():
    device = services.create_virtual_device(3102, "Room 13", template="temperature_sensor")
    row = VirtualObject.objects.get(device=device, name="Temperature")
    with pytest.raises(services.VirtualDeviceError, match="above the low limit"):
        services.update_virtual_object(row, high_limit=10.0, low_limit=20.0)
    with pytest.raises(services.VirtualDeviceError, match="deadband"):
        services.update_virtual_object(row, deadband=-1.0)
    row.refresh_from_db()
    assert (row.high_limit, row.low_limit, row.deadband) == (30.0, 15.0, 0.5)


def test_a_binary_alarm_value_is_read_in_our_vocabulary():
    device = VirtualBACnetDevice.objects.create(device_id=3103, device_name="Doors")
    services.ensure_default_notification_class()
    row = services.create_virtual_object(device, "BI", "Door_Open")
    services.update_virtual_object(row, notification_class=1, alarm_values=["on"])
    alarm = spec_for(VirtualObject.objects.get(pk=row.pk)).alarm
    assert alarm is not None
    assert alarm.alarm_values == ("active",)
    with pytest.raises(services.VirtualDeviceError, match="exactly one alarm value"):
        services.update_virtual_object(row, alarm_values=["on", "off"])


def test_a_notification_class_with_a_bad_recipient_is_not_stored():
    with pytest.raises(services.VirtualDeviceError, match="IPv4"):
        create_notification_class(7, "Night", recipients=[{"process_id": 1, "address": "nowhere"}])
    with pytest.raises(services.VirtualDeviceError, match="device instance or an address"):
        create_notification_class(7, "Night", recipients=[{"process_id": 1}])
    assert not NotificationClass.objects.filter(instance=7).exists()


def test_a_notification_class_is_edited_and_served_as_stored():
    row = create_notification_class(
        8,
        "Plant",
        priority_to_offnormal=5,
        recipients=[{"process_id": 9, "device": 9001, "confirmed": True, "to_time": "18:00"}],
    )
    update_notification_class(row, ack_required=[True, False, False])
    spec = notification_class_spec(NotificationClass.objects.get(instance=8))
    assert spec.priorities == (5, 100, 200)
    assert spec.ack_required == (True, False, False)
    (recipient,) = spec.recipients
    assert (recipient.device, recipient.confirmed, str(recipient.to_time)) == (
        9001,
        True,
        "18:00:00",
    )


def test_a_class_objects_still_name_cannot_be_deleted():
    services.create_virtual_device(3104, "Room 14", template="temperature_sensor")
    row = NotificationClass.objects.get(instance=1)
    with pytest.raises(services.Conflict, match="Temperature"):
        delete_notification_class(row)
    assert NotificationClass.objects.filter(instance=1).exists()
