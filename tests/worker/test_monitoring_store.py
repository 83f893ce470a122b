"""What a discovery does to the health of known devices (store.monitoring.mark_discovery)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bms.devices.models import BACnetDevice, DeviceHealthEvent
from bms.worker.store.monitoring import mark_discovery

pytestmark = pytest.mark.django_db


def make(instance: int, health: str = "online") -> BACnetDevice:
    return BACnetDevice.objects.create(
        device_instance=instance,
        address=f"127.0.0.{instance - 1000}",
        health=health,
        online=health == "online",
    )


def test_devices_in_the_range_that_did_not_answer_become_unreachable_and_answers_bring_back():
    make(1001)
    make(1002, "unreachable")
    make(1003)
    make(2001)  # outside the scanned range: untouched
    changed = mark_discovery("default", {1002}, 1000, 1999, None, timezone.now())
    assert sorted(d.device_instance for d in changed) == [1001, 1002, 1003]
    health = dict(BACnetDevice.objects.values_list("device_instance", "health"))
    assert health == {1001: "unreachable", 1002: "online", 1003: "unreachable", 2001: "online"}
    assert set(
        DeviceHealthEvent.objects.filter(device__device_instance=1001).values_list(
            "to_health", "reason"
        )
    ) == {("unreachable", "did not answer discovery")}
    assert not BACnetDevice.objects.get(device_instance=1003).online


def test_a_directed_who_is_only_judges_the_device_it_was_sent_to():
    make(1001)
    make(1002)
    mark_discovery("default", set(), None, None, "127.0.0.1", timezone.now())
    health = dict(BACnetDevice.objects.values_list("device_instance", "health"))
    assert health == {1001: "unreachable", 1002: "online"}
    # A directed broadcast asks devices we cannot list: nobody is judged.
    mark_discovery("default", set(), None, None, "127.0.0.255/8", timezone.now())
    assert BACnetDevice.objects.get(device_instance=1002).health == "online"
