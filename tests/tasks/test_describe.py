"""Tasks in words (bms.tasks.describe): who asked, and what the result says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bms.tasks.describe import requested_by, result_text
from bms.tasks.models import BACnetTask


def finished(kind: str, result: object, seconds: float = 0.4, **parameters: object) -> BACnetTask:
    """An unsaved task that ran for `seconds`: describe needs no database."""
    started = timezone.now()
    return BACnetTask(
        task_type=kind,
        parameters=parameters,
        result=result,
        started_at=started,
        completed_at=started + timedelta(seconds=seconds),
    )


@pytest.mark.parametrize(
    ("kind", "result", "text"),
    [
        (
            "discover",
            {"cached": False, "devices_found": 10, "devices": list(range(10)), "unreadable": []},
            "found 10 devices in 0.4 s",
        ),
        (
            "discover",
            {"cached": False, "devices_found": 3, "devices": [1, 2, 3], "unreadable": [2]},
            "found 3 devices in 0.4 s, 1 not readable",
        ),
        (
            "discover",
            {"cached": True, "scan_id": 4, "devices_found": 1},
            "1 device from a scan of the last few minutes (tick scan again to ask the network)",
        ),
        (
            "collect",
            {"devices": 10, "readings": 120, "failed_devices": []},
            "read 120 points from 10 devices in 0.4 s, 0 failed",
        ),
        (
            "read_points",
            {"device_id": 3000, "points": 20},
            "found 20 points on device 3000 in 0.4 s",
        ),
        (
            "read_points",
            {"device_id": 3000, "points": 20, "trend_logs": 2},
            "found 20 points and 2 trend logs on device 3000 in 0.4 s",
        ),
        (
            "history",
            {
                "readings_rolled_up": 10,
                "buckets": {"1 min": 2},
                "deleted": {"raw": 0, "1 min": 0},
                "partitions_created": ["devices_bacnetreading_p20261210"],
                "partitions_dropped": ["devices_bacnetreading_p20261101"] * 2,
                "more": False,
            },
            "rolled up 10 readings into buckets (2 of 1 min); dropped 0 expired rows; "
            "1 partition made and 2 expired partitions dropped in 0.4 s",
        ),
        (
            "write_point",
            {"written": 42.5, "priority": 8, "relinquished": False, "present_value": 42.5},
            "wrote 42.5 at priority 8; it now reads 42.5",
        ),
        (
            "write_point",
            {"written": None, "priority": 8, "relinquished": True, "present_value": 0.0},
            "relinquished priority 8; it now reads 0",
        ),
    ],
)
def test_results_read_as_a_sentence(kind, result, text):
    assert result_text(finished(kind, result)) == text


def test_a_result_of_another_shape_still_reads_as_its_fields():
    task = finished("collect", {"device_count": 2, "skipped": [1], "detail": {"x": 1}})
    assert result_text(task) == "device count: 2, skipped: 1"
    assert result_text(finished("discover", None)) == ""


def test_a_task_names_the_user_who_asked_or_the_schedule():
    assert requested_by(finished("discover", None, user="otto")) == "otto"
    assert requested_by(finished("collect", None, device_ids=None, scheduled=True)) == "schedule"
    assert requested_by(finished("collect", None, device_ids=None)) == ""
