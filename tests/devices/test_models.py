"""Database constraints of the device models."""

import pytest
from django.db import IntegrityError, connection, transaction

from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def point():
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    return BACnetPoint.objects.create(device=device, object_type="analog-input", instance=1)


@pytest.fixture
def virtual_object():
    device = create_virtual_device(2001, "Room", template="temperature_sensor")
    return device.virtual_objects.first()


def test_a_device_instance_is_unique_per_site_not_globally():
    BACnetDevice.objects.create(device_instance=1001, address="10.0.0.2", site="north")
    BACnetDevice.objects.create(device_instance=1001, address="10.1.0.2", site="south")
    with pytest.raises(IntegrityError), transaction.atomic():
        BACnetDevice.objects.create(device_instance=1001, address="10.0.0.3", site="north")


def test_a_point_is_unique_per_device_type_and_instance(point):
    with pytest.raises(IntegrityError), transaction.atomic():
        BACnetPoint.objects.create(device=point.device, object_type="analog-input", instance=1)
    BACnetPoint.objects.create(device=point.device, object_type="analog-value", instance=1)


def test_a_reading_belongs_to_a_point_or_a_virtual_object(point, virtual_object):
    BACnetReading.objects.create(point=point, value=21.5, source="poll")
    BACnetReading.objects.create(
        virtual_object=virtual_object, value=22.0, source="external_bacnet_write"
    )
    assert BACnetReading.objects.count() == 2


def test_a_reading_with_both_subjects_is_refused(point, virtual_object):
    with pytest.raises(IntegrityError), transaction.atomic():
        BACnetReading.objects.create(point=point, virtual_object=virtual_object, value=1)


def test_a_reading_with_no_subject_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        BACnetReading.objects.create(value=1)


def test_readings_are_indexed_by_subject_and_time_not_by_subject_alone() -> None:
    """devices 0011: a reading's subject is found through its (subject, timestamp) index; a
    single-column index would only be one more to update on every reading stored."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "devices_bacnetreading")
    indexed = {tuple(c["columns"]) for c in found.values() if c["index"] and not c["primary_key"]}
    assert indexed == {
        ("point_id", "timestamp"),
        ("virtual_object_id", "timestamp"),
        ("timestamp",),
    }
