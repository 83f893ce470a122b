"""Object instances allocated by simultaneous creations (bms.virtual.services._allocating):
an overlap that takes an identifier is retried with fresh ones, a bounded number of times; a
taken name or device id is a DuplicateObject at once. Real threads with their own connections:
SQLite here, PostgreSQL (where overlaps do happen) in its pass (tests/django/test_postgresql_pass).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import IntegrityError

from bms.virtual import services
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def at_once(count: int, create) -> list:
    """create(i) in `count` threads released together; what each returned or raised."""
    start = threading.Barrier(count)

    def attempt(index: int):
        start.wait()
        try:
            return create(index)
        except services.VirtualDeviceError as refusal:
            return refusal

    return run_in_threads(count, attempt)


def test_objects_created_at_once_on_one_device_get_distinct_instances(building):
    device = VirtualBACnetDevice.objects.get(device_id=2001)
    made = at_once(
        THREADS, lambda i: services.create_virtual_object(device, "analog-value", f"Extra_{i}")
    )
    assert all(isinstance(obj, VirtualObject) for obj in made), made
    instances = [obj.instance for obj in made]
    assert len(set(instances)) == THREADS
    identifiers = Counter(VirtualObject.objects.values_list("object_type", "instance"))
    assert set(identifiers.values()) == {1}


def test_one_name_created_at_once_is_stored_once_and_refused_as_a_duplicate(building):
    device = VirtualBACnetDevice.objects.get(device_id=2001)
    made = at_once(4, lambda i: services.create_virtual_object(device, "analog-value", "Twin"))
    assert sum(isinstance(obj, VirtualObject) for obj in made) == 1, made
    refusals = [obj for obj in made if not isinstance(obj, VirtualObject)]
    assert all(isinstance(r, services.DuplicateObject) for r in refusals), refusals
    assert all("already has an object named Twin" in str(r) for r in refusals)
    assert VirtualObject.objects.filter(device=device, name="Twin").count() == 1


def test_devices_created_at_once_from_one_template_all_get_their_objects(db):
    made = at_once(
        THREADS,
        lambda i: services.create_virtual_device(
            7200 + i, f"AHU {i}", template="air_handling_unit"
        ),
    )
    assert all(isinstance(device, VirtualBACnetDevice) for device in made), made
    counts = {d.device_id: d.virtual_objects.count() for d in made}
    assert len(set(counts.values())) == 1
    assert 0 not in counts.values()


def test_an_allocation_that_keeps_conflicting_gives_up_after_the_bound(db):
    tries = []

    def always_taken():
        tries.append(1)
        raise IntegrityError('unique constraint "virtualobject_unique_identifier"')

    with pytest.raises(services.AllocationContended, match="try again"):
        services._allocating(always_taken, lambda: None)
    assert len(tries) == services.ALLOCATION_ATTEMPTS


def test_another_integrity_error_is_a_bug_raised_as_it_is(db):
    tries = []

    def create():
        tries.append(1)
        raise IntegrityError("NOT NULL constraint failed: virtual_virtualobject.name")

    with pytest.raises(IntegrityError, match="NOT NULL"):
        services._allocating(create, lambda: None)
    assert len(tries) == 1


def test_a_conflict_on_what_the_caller_named_is_not_retried(db):
    tries = []

    def create():
        tries.append(1)
        raise IntegrityError("UNIQUE constraint failed: the name")

    taken = iter([None, "an object named X already exists"])
    with pytest.raises(services.DuplicateObject, match="named X"):
        services._allocating(create, lambda: next(taken))
    assert len(tries) == 1
