"""The monitoring settings service: inheritance point -> device -> site, validation, counts,
and what the worker records (refusals, health changes with their events)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint, DeviceHealthEvent
from bms.devices.monitoring import MonitorDefaults, MonitoringError

pytestmark = pytest.mark.django_db

SITE_DEFAULTS = MonitorDefaults(monitored=False, mode="auto", poll_seconds=60)


@pytest.fixture
def device() -> BACnetDevice:
    row = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2")
    for instance in (1, 2, 3):
        BACnetPoint.objects.create(device=row, object_type="analog-input", instance=instance)
    BACnetPoint.objects.create(device=row, object_type="binary-value", instance=1)
    return row


def test_a_point_inherits_from_its_device_which_inherits_from_the_site(device):
    point = device.points.get(object_type="analog-input", instance=1)
    assert monitoring.effective(point, device, SITE_DEFAULTS) == monitoring.Effective(
        False, "auto", 60
    )
    monitoring.set_device_monitoring(device, monitored=True, poll_seconds=10)
    assert monitoring.effective(point, device, SITE_DEFAULTS) == monitoring.Effective(
        True, "auto", 10
    )
    monitoring.set_point_monitoring(point, monitored=False, mode="poll", poll_seconds=5)
    point.refresh_from_db()
    assert monitoring.effective(point, device, SITE_DEFAULTS) == monitoring.Effective(
        False, "poll", 5
    )
    # None and "" inherit again.
    monitoring.set_point_monitoring(point, monitored=None, mode="", poll_seconds=None)
    point.refresh_from_db()
    assert monitoring.effective(point, device, SITE_DEFAULTS).poll_seconds == 10


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"mode": "push"}, "mode must be one of cov, poll, auto"),
        ({"poll_seconds": 0}, "poll interval must be a whole number of seconds >= 1"),
        ({"poll_seconds": 2.5}, "poll interval"),
        ({"poll_seconds": True}, "poll interval"),
        ({"monitored": "yes"}, "monitored must be true, false or null"),
    ],
)
def test_bad_settings_are_refused_with_the_reason_and_nothing_is_saved(device, bad, message):
    with pytest.raises(MonitoringError, match=message):
        monitoring.set_device_monitoring(device, **bad)
    device.refresh_from_db()
    assert (device.monitored, device.monitor_mode, device.poll_seconds) == (None, "", None)


def test_counts_say_how_many_points_are_on_cov_and_how_many_polled(device):
    monitoring.set_device_monitoring(device, monitored=True)
    monitoring.set_point_monitoring(
        device.points.get(object_type="analog-input", instance=3), mode="poll"
    )
    monitoring.set_point_monitoring(device.points.get(object_type="binary-value"), monitored=False)
    assert monitoring.watch_counts([device], SITE_DEFAULTS) == {
        device.id: {"cov": 2, "poll": 1, "unwatched": 0}
    }
    monitoring.record_cov_refusal(device.id, "analog-input", "no COV", datetime.now(UTC))
    device.refresh_from_db()
    assert monitoring.watch_counts([device], SITE_DEFAULTS)[device.id] == {
        "cov": 0,
        "poll": 3,
        "unwatched": 0,
    }
    monitoring.forget_cov_refusals(device)
    device.refresh_from_db()
    assert device.cov_refused == {}


def test_a_health_change_is_stored_with_an_event_and_keeps_online_in_step(device):
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    stored = monitoring.record_health_change(device.id, "online", "unreachable", "timeouts", at)
    assert stored is not None
    assert (stored.health, stored.online, stored.health_changed_at) == ("unreachable", False, at)
    event = DeviceHealthEvent.objects.get(device=device)
    assert (event.from_health, event.to_health, event.reason, event.time) == (
        "online",
        "unreachable",
        "timeouts",
        at,
    )
    # A change from a state the device is no longer in is not recorded.
    assert monitoring.record_health_change(device.id, "online", "offline", "late", at) is None
    assert DeviceHealthEvent.objects.count() == 1


# ---- the revision that tells the worker what changed


def test_each_change_of_settings_bumps_the_site_revision_and_stamps_its_device(device):
    other = BACnetDevice.objects.create(device_instance=1002, address="127.0.0.3")
    assert monitoring.site_revision("default") == 0
    monitoring.set_device_monitoring(device, monitored=True)
    assert monitoring.site_revision("default") == 1
    point = device.points.get(object_type="binary-value", instance=1)
    monitoring.set_point_monitoring(point, mode="poll")
    monitoring.forget_cov_refusals(device)
    assert monitoring.site_revision("default") == 3
    device.refresh_from_db()
    other.refresh_from_db()
    assert (device.monitor_revision, other.monitor_revision) == (3, 0)
    assert monitoring.site_revision("north") == 0  # each site counts its own


def test_a_refused_setting_bumps_nothing(device):
    with pytest.raises(MonitoringError):
        monitoring.set_device_monitoring(device, poll_seconds=0)
    assert monitoring.site_revision("default") == 0
    assert BACnetDevice.objects.get(id=device.id).monitor_revision == 0


def test_a_failed_save_leaves_the_revision_where_it_was(device):
    # The bump shares the change's transaction: both happen or neither.
    with transaction.atomic():
        monitoring.set_device_monitoring(device, monitored=True)
        transaction.set_rollback(True)  # the request failed after the change
    assert monitoring.site_revision("default") == 0
    assert BACnetDevice.objects.get(id=device.id).monitored is None
