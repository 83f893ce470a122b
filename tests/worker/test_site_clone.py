"""A site's stored devices, points and readings described for the simulator (site_clone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.simulator.clone import ClonedPoint, ClonedTrendLog, CloneError
from bms.worker.site_clone import clone_site

pytestmark = pytest.mark.django_db

SITE = "north"
RPM_AND_MORE = ["read-property", "read-property-multiple", "write-property", "who-is"]


def device(instance: int, **fields: object) -> BACnetDevice:
    values: dict[str, object] = {
        "site": SITE,
        "device_instance": instance,
        "address": f"10.0.0.{instance % 250}",
        "name": f"AHU {instance}",
        "max_apdu": 1476,
        "segmentation": "segmented-both",
        "services_supported": RPM_AND_MORE,
    }
    return BACnetDevice.objects.create(**(values | fields))


def point(owner: BACnetDevice, object_type: str, instance: int, **fields: object) -> BACnetPoint:
    return BACnetPoint.objects.create(
        device=owner, object_type=object_type, instance=instance, **fields
    )


def test_a_sites_devices_keep_their_instances_identity_and_quirks() -> None:
    device(1001, segmentation="no-segmentation", max_apdu=480, vendor_id=7, location="Roof")
    device(1002, services_supported=["read-property", "who-is"])  # no RPM
    device(1003, services_supported=[], max_apdu=1400)  # never read: RPM assumed; 1024
    device(1004, site="elsewhere")

    clone = clone_site(SITE)

    assert [d.instance for d in clone] == [1001, 1002, 1003]
    first, no_rpm, unread = clone
    assert (first.name, first.segmentation, first.max_apdu, first.supports_rpm) == (
        "AHU 1001",
        "no-segmentation",
        480,
        True,
    )
    assert (first.vendor_id, first.location) == (7, "Roof")
    assert no_rpm.supports_rpm is False
    assert (unread.supports_rpm, unread.max_apdu) == (True, 1024)


def test_what_the_worker_saw_a_device_do_beats_what_it_claimed() -> None:
    device(1001, learned_segmentation=False, learned_rpm=True)  # says it segments; aborts
    device(1002, learned_rpm=False, learned_max_apdu=480)  # lists RPM; refuses it
    device(1003, segmentation="no-segmentation", learned_segmentation=True)  # did segment
    device(1004, segmentation="segmented-transmit", learned_segmentation=True, learned_rpm=True)
    device(1005, services_supported=["read-property"], max_apdu=480)  # nothing seen: claims

    aborts, refuses, segments, transmits, claims = clone_site(SITE)

    assert (aborts.segmentation, aborts.supports_rpm, aborts.max_apdu) == (
        "no-segmentation",
        True,
        1476,
    )
    assert (refuses.segmentation, refuses.supports_rpm, refuses.max_apdu) == (
        "segmented-both",
        False,
        480,
    )
    assert segments.segmentation == "segmented-both"
    assert (transmits.segmentation, transmits.supports_rpm) == ("segmented-transmit", True)
    assert (claims.segmentation, claims.supports_rpm, claims.max_apdu) == (
        "segmented-both",
        False,
        480,
    )


def test_points_keep_names_units_texts_and_commandable_and_other_objects_stay_out() -> None:
    ahu = device(1001)
    point(
        ahu,
        "analog-input",
        1,
        name="SAT",
        description="Supply air",
        units="degrees-celsius",
        properties={"cov-increment": 0.5, "units": "degrees-celsius"},
    )
    point(
        ahu,
        "multi-state-value",
        2,
        name="Mode",
        state_texts=["Occupied", "Unoccupied"],
        commandable=True,
        last_value=2,
    )
    point(ahu, "binary-input", 3, name="Fan", state_texts=["Off", "On"], last_value="active")
    point(ahu, "trend-log", 1, name="SAT_Log")

    (clone,) = clone_site(SITE)

    assert clone.points == (
        ClonedPoint("analog-input", 1, "SAT", "Supply air", "degrees-celsius", cov_increment=0.5),
        ClonedPoint("binary-input", 3, "Fan", state_texts=("Off", "On"), values=("active",)),
        ClonedPoint(
            "multi-state-value",
            2,
            "Mode",
            state_texts=("Occupied", "Unoccupied"),
            commandable=True,
            values=(2,),
        ),
    )


def test_trend_logs_of_the_devices_own_analog_points_are_cloned() -> None:
    ahu, other = device(1001), device(1002)
    sat = point(ahu, "analog-input", 1, name="SAT")
    fan = point(ahu, "binary-input", 2, name="Fan")
    point(ahu, "trend-log", 4, name="SAT_Log", logged_point=sat)
    point(ahu, "trend-log", 5, name="Fan_Log", logged_point=fan)  # not analog: left out
    point(ahu, "trend-log", 6, name="Remote_Log")  # logs another device's object: left out
    point(other, "trend-log", 1, name="Borrowed", logged_point=sat)  # not its own point

    first, second = clone_site(SITE)

    assert first.trend_logs == (ClonedTrendLog(4, "SAT_Log", "analog-input", 1),)
    assert second.trend_logs == ()


def test_readings_of_the_last_hours_are_replayed_oldest_first_newest_kept() -> None:
    now = timezone.now()
    sensor = point(device(1001), "analog-input", 1, name="SAT", last_value=99.0)
    stored = [(30, 13.0), (2, 16.0), (5, 15.0), (1, None), (3, 14.0), (0.5, 17.0), (50, 12.0)]
    for minutes_ago, value in stored:
        BACnetReading.objects.create(
            point=sensor, value=value, timestamp=now - timedelta(minutes=minutes_ago)
        )

    (clone,) = clone_site(SITE, history_hours=0.75, max_values=4, now=now)

    # The last 45 minutes in time order (50 is too old, the null left out), the newest 4.
    assert clone.points[0].values == (15.0, 14.0, 16.0, 17.0)
    (without_history,) = clone_site(SITE, history_hours=0, now=now)
    assert without_history.points[0].values == (99.0,)  # the last value


def test_a_site_without_devices_is_refused_with_what_to_do() -> None:
    with pytest.raises(CloneError, match="discover it first"):
        clone_site("nowhere")
