"""The worker's external-write store: the same rows on every database (PostgreSQL takes one
statement, SQLite the ORM), a deleted object refused, a late store rolled back.

The PostgreSQL pass (test_postgresql_pass.py) runs these again with DATABASE_URL on PostgreSQL.
"""

from __future__ import annotations

import time

import pytest

from bms.bacnet.errors import WriteRefused
from bms.bacnet.types import ObjectRef, WriteEvent
from bms.devices.models import BACnetReading, WriteAudit
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device
from bms.worker import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def output() -> VirtualObject:
    device = create_virtual_device(2101, "AHU", template="hvac_controller")
    return device.virtual_objects.get(object_type="analog-output")


def event_for(obj: VirtualObject, **changes: object) -> WriteEvent:
    array: list[object] = [None] * 16
    array[7] = 24.5
    fields: dict[str, object] = dict(
        ref=ObjectRef(obj.object_type, obj.instance), object_name=obj.bacnet_name,
        property="present-value", old_value=None, new_value=24.5, priority=8,
        source_address="127.0.0.9:47808", effective_value=24.5, priority_array=tuple(array),
    )
    fields.update(changes)
    return WriteEvent(**fields)  # type: ignore[arg-type]


def test_an_external_write_stores_value_array_reading_audit_and_device_time(output):
    event = event_for(output)
    stored = store.store_external_write(event, output.id, output.device_id,
                                        time.monotonic() + 5)

    output.refresh_from_db()
    assert output.present_value == 24.5
    assert output.priority_array == list(event.priority_array)
    assert output.updated_at == stored.updated_at
    assert output.device.last_external_write == stored.updated_at
    reading = BACnetReading.objects.get(virtual_object=output)
    assert (reading.value, reading.timestamp, reading.source, reading.point_id) == (
        24.5, stored.updated_at, "external_bacnet_write", None)
    audit = WriteAudit.objects.get(virtual_object=output)
    assert (audit.time, audit.source, audit.who, audit.object_ref, audit.property,
            audit.old_value, audit.new_value, audit.priority, audit.accepted, audit.reason,
            audit.point_id) == (
        stored.updated_at, "bacnet", "127.0.0.9:47808", str(event.ref), "present-value",
        None, 24.5, 8, True, "", None)


def test_a_relinquish_stores_sql_null_as_the_orm_does(output):
    # old_value 24.5, new_value None (relinquish), no priority left: present value None too.
    event = event_for(output, old_value=24.5, new_value=None, effective_value=None,
                      priority_array=(None,) * 16)
    store.store_external_write(event, output.id, output.device_id, time.monotonic() + 5)

    assert VirtualObject.objects.filter(id=output.id, present_value__isnull=True).exists()
    assert BACnetReading.objects.filter(virtual_object=output, value__isnull=True).exists()
    assert WriteAudit.objects.filter(virtual_object=output, new_value__isnull=True,
                                     old_value=24.5).exists()


def test_an_out_of_service_write_sets_the_flag(output):
    event = event_for(output, property="out-of-service", old_value=False, new_value=True,
                      priority=None, effective_value=output.present_value, priority_array=())
    store.store_external_write(event, output.id, output.device_id, time.monotonic() + 5)
    output.refresh_from_db()
    assert output.out_of_service is True


def test_a_write_to_a_deleted_object_is_refused_and_stores_nothing(output):
    object_id, device_pk = output.id, output.device_id
    output.delete()
    with pytest.raises(WriteRefused) as refused:
        store.store_external_write(event_for(output), object_id, device_pk,
                                   time.monotonic() + 5)
    assert refused.value.error_code == "unknown-object"
    assert not BACnetReading.objects.exists()
    assert not WriteAudit.objects.exists()
    output.device.refresh_from_db()
    assert output.device.last_external_write is None


def test_a_store_past_its_deadline_is_rolled_back(output):
    before = output.present_value
    with pytest.raises(WriteRefused) as refused:
        store.store_external_write(event_for(output), output.id, output.device_id,
                                   time.monotonic() - 1)
    assert refused.value.error_code == "operational-problem"
    output.refresh_from_db()
    assert output.present_value == before
    assert not BACnetReading.objects.exists()
    assert not WriteAudit.objects.exists()
    assert output.device.last_external_write is None
