"""The worker's external-write store: the same rows on every database (PostgreSQL takes one
statement, SQLite the ORM), a deleted object refused, a late store rolled back.

The PostgreSQL pass (test_postgresql_pass.py) runs these again with DATABASE_URL on PostgreSQL.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bms.bacnet.errors import WriteRefused
from bms.bacnet.local import LOCAL_CLASSES
from bms.bacnet.local.objects import property_attr
from bms.bacnet.types import DeviceInfo, IAmRecord, ObjectRef, WriteEvent
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, WriteAudit
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
        ref=ObjectRef(obj.object_type, obj.instance),
        object_name=obj.bacnet_name,
        property="present-value",
        old_value=None,
        new_value=24.5,
        priority=8,
        source_address="127.0.0.9:47808",
        effective_value=24.5,
        priority_array=tuple(array),
    )
    fields.update(changes)
    return WriteEvent(**fields)  # type: ignore[arg-type]


def test_an_external_write_stores_value_array_reading_audit_and_device_time(output):
    event = event_for(output)
    stored = store.store_external_write(
        event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
    )

    output.refresh_from_db()
    assert output.present_value == 24.5
    assert output.priority_array == list(event.priority_array)
    assert output.updated_at == stored.updated_at
    assert output.device.last_external_write == stored.updated_at
    reading = BACnetReading.objects.get(virtual_object=output)
    assert (reading.value, reading.timestamp, reading.source, reading.point_id) == (
        24.5,
        stored.updated_at,
        "external_bacnet_write",
        None,
    )
    audit = WriteAudit.objects.get(virtual_object=output)
    assert (
        audit.time,
        audit.source,
        audit.who,
        audit.object_ref,
        audit.property,
        audit.old_value,
        audit.new_value,
        audit.priority,
        audit.accepted,
        audit.reason,
        audit.point_id,
    ) == (
        stored.updated_at,
        "bacnet",
        "127.0.0.9:47808",
        str(event.ref),
        "present-value",
        None,
        24.5,
        8,
        True,
        "",
        None,
    )


def test_a_relinquish_stores_sql_null_as_the_orm_does(output):
    # old_value 24.5, new_value None (relinquish), no priority left: present value None too.
    event = event_for(
        output, old_value=24.5, new_value=None, effective_value=None, priority_array=(None,) * 16
    )
    store.store_external_write(
        event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
    )

    assert VirtualObject.objects.filter(id=output.id, present_value__isnull=True).exists()
    assert BACnetReading.objects.filter(virtual_object=output, value__isnull=True).exists()
    assert WriteAudit.objects.filter(
        virtual_object=output, new_value__isnull=True, old_value=24.5
    ).exists()


def test_an_out_of_service_write_sets_the_flag(output):
    event = event_for(
        output,
        property="out-of-service",
        old_value=False,
        new_value=True,
        priority=None,
        effective_value=output.present_value,
        priority_array=(),
    )
    store.store_external_write(
        event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
    )
    output.refresh_from_db()
    assert output.out_of_service is True


def test_a_write_to_a_deleted_object_is_refused_and_stores_nothing(output):
    object_id, device_pk = output.id, output.device_id
    output.delete()
    with pytest.raises(WriteRefused) as refused:
        store.store_external_write(
            event_for(output), object_id, device_pk, output.updated_at, time.monotonic() + 5
        )
    assert refused.value.error_code == "unknown-object"
    assert not BACnetReading.objects.exists()
    assert not WriteAudit.objects.exists()
    output.device.refresh_from_db()
    assert output.device.last_external_write is None


def test_a_store_past_its_deadline_is_rolled_back(output):
    before = output.present_value
    with pytest.raises(WriteRefused) as refused:
        store.store_external_write(
            event_for(output), output.id, output.device_id, output.updated_at, time.monotonic() - 1
        )
    assert refused.value.error_code == "operational-problem"
    output.refresh_from_db()
    assert output.present_value == before
    assert not BACnetReading.objects.exists()
    assert not WriteAudit.objects.exists()
    assert output.device.last_external_write is None


def i_am(instance: int, address: str, vendor: int = 15) -> IAmRecord:
    return IAmRecord(
        device_instance=instance,
        address=address,
        max_apdu=1476,
        segmentation="segmented-both",
        vendor_id=vendor,
    )


def info(instance: int, address: str, name: str) -> DeviceInfo:
    return DeviceInfo(
        device_instance=instance,
        address=address,
        name=name,
        vendor_name="V",
        model_name="M",
        protocol_revision=14,
        location="roof",
        services_supported=("read-property",),
    )


def test_save_discovery_inserts_and_updates_in_a_few_statements(django_assert_max_num_queries):
    started = timezone.now()
    kept = BACnetDevice.objects.create(
        site="s",
        device_instance=2,
        address="10.0.0.2",
        name="old name",
        location="basement",
        first_seen=started - timedelta(days=3),
    )
    other_site = BACnetDevice.objects.create(site="t", device_instance=1, address="10.9.9.9")
    records = [i_am(n, f"10.0.0.{n}") for n in range(1, 1201)] + [i_am(3, "10.0.1.3", 16)]
    infos = {n: info(n, f"10.0.0.{n}", f"dev {n}") for n in range(3, 1201)}
    # Batches (SQLite caps the parameters of one statement), never a query per device; one
    # more read marks the health of the known devices the scan covered. (SQLite's batches hold
    # fewer rows as the device table gains columns: 45 with the learned_* ones.)
    with django_assert_max_num_queries(45):
        scan, devices = store.save_discovery("s", records, infos, {"low": None}, started, None)

    assert scan.devices_found == len(records)
    assert [d.device_instance for d in devices] == list(range(1, 1201))
    assert all(d.id for d in devices)
    assert BACnetDevice.objects.filter(site="s").count() == 1200
    # Unreadable this time: the I-Am fields change, the stored properties stay.
    kept.refresh_from_db()
    assert (kept.address, kept.name, kept.location, kept.max_apdu) == (
        "10.0.0.2",
        "old name",
        "basement",
        1476,
    )
    assert kept.first_seen == started - timedelta(days=3)
    assert kept.last_seen == scan.scan_time
    # A device that answered twice: its last answer is stored.
    third = BACnetDevice.objects.get(site="s", device_instance=3)
    assert (third.address, third.vendor_id, third.name, third.location) == (
        "10.0.1.3",
        16,
        "dev 3",
        "roof",
    )
    assert third.services_supported == ["read-property"]
    assert third.first_seen == scan.scan_time
    other_site.refresh_from_db()
    assert other_site.address == "10.9.9.9"

    # Scanning again updates in place: no new rows, same ids.
    ids = {d.device_instance: d.id for d in devices}
    _scan, again = store.save_discovery("s", records[:5], {}, {"low": None}, started, None)
    assert {d.device_instance: d.id for d in again} == {n: ids[n] for n in range(1, 6)}
    assert BACnetDevice.objects.filter(site="s").count() == 1200


def test_a_write_on_a_row_changed_since_the_sync_keeps_that_change(output):
    synced_at = output.updated_at
    # An operator commanded level 5 after the worker last applied the row.
    levels = [None] * 16
    levels[4] = 21.0
    output.priority_array, output.present_value = levels, 21.0
    output.save()

    stored = store.store_external_write(
        event_for(output), output.id, output.device_id, synced_at, time.monotonic() + 5
    )

    assert stored.merged
    output.refresh_from_db()
    assert (output.priority_array[4], output.priority_array[7]) == (21.0, 24.5)
    assert output.present_value == 21.0  # level 5 outranks the peer's level 8
    assert BACnetReading.objects.get(virtual_object=output).value == 21.0
    assert WriteAudit.objects.get(virtual_object=output).new_value == 24.5


def _chain(output: VirtualObject, writes: list[tuple[float, int]]) -> list[WriteEvent]:
    """Events as the engine plans them: each on the state the previous one leaves."""
    array: list[object] = [None] * 16
    effective: object = None
    events = []
    for value, priority in writes:
        old = effective
        array[priority - 1] = value
        effective = next(v for v in array if v is not None)
        events.append(
            event_for(
                output,
                old_value=old,
                new_value=value,
                priority=priority,
                effective_value=effective,
                priority_array=tuple(array),
            )
        )
    return events


def test_a_batch_stores_every_write_in_order_in_one_transaction(
    output, django_assert_max_num_queries
):
    events = _chain(output, [(24.5, 8), (22.0, 9), (23.0, 8), (21.0, 7)])
    with django_assert_max_num_queries(len(events) * 4 + 3):
        stored = store.store_external_writes(
            events, output.id, output.device_id, output.updated_at, time.monotonic() + 5
        )

    assert not stored.merged
    output.refresh_from_db()
    assert output.priority_array == list(events[-1].priority_array)
    assert output.present_value == 21.0
    assert output.updated_at == stored.updated_at
    readings = BACnetReading.objects.filter(virtual_object=output).order_by("id")
    assert [r.value for r in readings] == [24.5, 24.5, 23.0, 21.0]  # the effective values
    audits = WriteAudit.objects.filter(virtual_object=output).order_by("id")
    assert [(a.old_value, a.new_value, a.priority) for a in audits] == [
        (None, 24.5, 8),
        (24.5, 22.0, 9),
        (24.5, 23.0, 8),
        (23.0, 21.0, 7),
    ]


def test_a_batch_past_its_deadline_stores_none_of_its_writes(output):
    before = output.present_value
    events = _chain(output, [(24.5, 8), (22.0, 9)])
    with pytest.raises(WriteRefused):
        store.store_external_writes(
            events, output.id, output.device_id, output.updated_at, time.monotonic() - 1
        )
    output.refresh_from_db()
    assert output.present_value == before
    assert not BACnetReading.objects.exists()
    assert not WriteAudit.objects.exists()


def test_a_batch_on_a_row_changed_since_the_sync_merges_every_write(output):
    synced_at = output.updated_at
    levels = [None] * 16
    levels[4] = 21.0
    output.priority_array, output.present_value = levels, 21.0
    output.save()

    events = _chain(output, [(24.5, 8), (22.0, 9)])
    stored = store.store_external_writes(
        events, output.id, output.device_id, synced_at, time.monotonic() + 5
    )

    assert stored.merged
    output.refresh_from_db()
    assert output.priority_array[4:9] == [21.0, None, None, 24.5, 22.0]  # operator level kept
    assert output.present_value == 21.0
    assert WriteAudit.objects.filter(virtual_object=output).count() == 2


def polled_points(count: int) -> list[BACnetPoint]:
    device = BACnetDevice.objects.create(device_instance=1200, address="127.0.0.2")
    return [
        BACnetPoint.objects.create(
            device=device,
            object_type="analog-input",
            instance=n,
            name=f"AI {n}",
            status_flags=[True, False, False, False],
        )
        for n in range(count)
    ]


def test_a_collect_chunk_stores_values_flags_and_readings_in_few_statements(
    django_assert_max_num_queries,
):
    points = polled_points(50)
    gone = points.pop()
    gone_id = gone.id
    gone.delete()  # deleted while the collect was reading it: skipped, not an error
    values = {p.id: (20.0 + n, (False, n % 2 == 0, False, False)) for n, p in enumerate(points)}
    values[points[0].id] = ("active", None)  # flags not read: the stored ones stay
    values[gone_id] = (1.0, None)
    at = timezone.now()
    # PostgreSQL: the one statement (and the savepoint around it inside the test's transaction)
    with django_assert_max_num_queries(3 if connection.vendor == "postgresql" else 8):
        stored = store.save_collect_wave(values, [], at)
    assert sorted(stored) == sorted(p.id for p in points)
    fresh = {p.id: p for p in BACnetPoint.objects.all()}
    assert fresh[points[0].id].last_value == "active"
    assert fresh[points[0].id].status_flags == [True, False, False, False]
    assert fresh[points[3].id].last_value == 23.0
    assert fresh[points[3].id].status_flags == [False, False, False, False]
    assert fresh[points[2].id].status_flags == [False, True, False, False]
    assert {p.last_value_at for p in fresh.values()} == {at}
    readings = BACnetReading.objects.filter(source="poll")
    assert readings.count() == len(points)
    assert {(r.point_id, r.value) for r in readings} == {(p.id, values[p.id][0]) for p in points}
    assert {r.timestamp for r in readings} == {at}


def test_an_event_payload_has_every_field_with_the_ref_as_text() -> None:
    event = WriteEvent(
        ObjectRef("analog-output", 3),
        "Valve",
        "present-value",
        1.5,
        42.0,
        8,
        "127.0.0.9:47808",
        42.0,
        (None,) * 7 + (42.0,) + (None,) * 8,
    )
    payload = store.event_payload(event)
    assert payload == {**dataclasses.asdict(event), "ref": "analog-output,3"}
    assert json.loads(json.dumps(payload))["priority_array"][7] == 42.0


def _property_event(obj: VirtualObject, prop: str, new: object, old: object) -> WriteEvent:
    """A write of a property other than present-value, as the engine plans it on `obj`."""
    array = tuple(obj.priority_array or ())
    effective = obj.present_value
    if prop == "relinquish-default":
        effective = next((v for v in array if v is not None), new)
    return event_for(
        obj,
        property=prop,
        old_value=old,
        new_value=new,
        priority=None,
        effective_value=effective,
        priority_array=array,
    )


@pytest.mark.parametrize(
    ("prop", "column", "value"),
    [
        ("description", "description", "written by a peer"),
        ("cov-increment", "cov_increment", 2.5),
        ("relinquish-default", "relinquish_default", 33.0),
        ("out-of-service", "out_of_service", True),
    ],
)
def test_every_property_a_peer_may_write_is_stored_with_its_audit(output, prop, column, value):
    event = _property_event(output, prop, value, getattr(output, column))
    store.store_external_write(
        event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
    )
    output.refresh_from_db()
    assert getattr(output, column) == value
    audit = WriteAudit.objects.get(virtual_object=output)
    assert (audit.property, audit.new_value, audit.accepted) == (prop, value, True)


def test_a_relinquish_default_write_moves_an_uncommanded_value(output):
    event = _property_event(output, "relinquish-default", 33.0, output.relinquish_default)
    store.store_external_write(
        event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
    )
    output.refresh_from_db()
    assert (output.relinquish_default, output.present_value) == (33.0, 33.0)


def test_a_property_with_no_column_is_refused_and_stores_nothing(output):
    event = _property_event(output, "object-name", "renamed", output.bacnet_name)
    with pytest.raises(WriteRefused) as refused:
        store.store_external_write(
            event, output.id, output.device_id, output.updated_at, time.monotonic() + 5
        )
    assert (refused.value.error_class, refused.value.error_code) == (
        "property",
        "write-access-denied",
    )
    assert not WriteAudit.objects.exists()


def test_the_store_stores_every_property_the_device_lets_a_peer_write():
    writable = set().union(*(cls.writable_properties() for cls in LOCAL_CLASSES.values()))
    assert {property_attr(p) for p in store.STORED_PROPERTIES} == writable


def test_a_property_write_on_a_row_changed_since_the_sync_keeps_that_change(output):
    engine_state = copy.copy(output)  # the row as the worker last applied it
    synced_at = output.updated_at
    levels = [None] * 16
    levels[4] = 21.0
    output.priority_array, output.present_value = levels, 21.0  # an operator's command
    output.save()

    for prop, value in (("out-of-service", True), ("relinquish-default", 33.0)):
        event = _property_event(engine_state, prop, value, None)
        assert store.store_external_write(
            event, output.id, output.device_id, synced_at, time.monotonic() + 5
        ).merged

    output.refresh_from_db()
    assert output.priority_array[4] == 21.0
    assert output.present_value == 21.0
    assert (output.out_of_service, output.relinquish_default) == (True, 33.0)
