"""Retention drops what is past its days and already summarised, in bounded steps, and
nothing newer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bms.devices.models import BACnetReading
from bms.history import partitions
from bms.history.config import Retention
from bms.history.models import ReadingRollup
from bms.history.retention import drop_expired
from bms.history.rollup import roll_up_all
from tests.history.helpers import NOW, every, maintain, make_points, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_retention(settings: Any) -> None:
    settings.BMS_HISTORY_RAW_DAYS = 2
    settings.BMS_HISTORY_1MIN_DAYS = 3
    settings.BMS_HISTORY_15MIN_DAYS = 4
    settings.BMS_HISTORY_1H_DAYS = 0


def five_days_every_ten_minutes() -> None:
    (point,) = make_points(1)
    store(point, ((1.0, at) for at in every(600, NOW - timedelta(days=5), NOW)))


def test_old_raw_readings_and_buckets_are_dropped_and_nothing_newer(short_retention: None):
    five_days_every_ten_minutes()
    maintain(NOW, rows=100)  # small steps: several runs, each bounded
    oldest_raw = BACnetReading.objects.order_by("timestamp").first()
    assert oldest_raw is not None
    cutoff = NOW - timedelta(days=2)
    # Two days of readings every 10 min, kept.
    assert BACnetReading.objects.filter(timestamp__gte=cutoff).count() == 2 * 144
    if partitions.partitioned():
        # Whole day partitions go (test_partitions.py): the cutoff's own day is kept whole
        # (rows in the default partition, as when the tests run long after the day the test
        # database's partitions were made for, go exactly at the cutoff).
        assert cutoff.replace(hour=0) <= oldest_raw.timestamp <= cutoff
    else:
        assert oldest_raw.timestamp == cutoff
        assert BACnetReading.objects.count() == 2 * 144
    weekly = partitions.partitioned(partitions.ONE_MINUTE_ROLLUPS)
    for resolution, days in ((60, 3), (900, 4)):
        buckets = ReadingRollup.objects.filter(resolution=resolution).order_by("start")
        oldest, bucket_cutoff = buckets.first().start, NOW - timedelta(days=days)
        if resolution == 60 and weekly:
            # Whole week partitions go: the cutoff's own week is kept whole.
            assert bucket_cutoff - timedelta(days=7) < oldest <= bucket_cutoff
        else:
            assert oldest == bucket_cutoff
    hours = ReadingRollup.objects.filter(resolution=3600)
    assert hours.order_by("start").first().start == NOW - timedelta(days=5)  # kept for ever
    assert hours.count() == 5 * 24 - 1  # all but the hour still open at NOW


def test_raw_readings_are_not_dropped_before_they_are_rolled_up(short_retention: None):
    five_days_every_ten_minutes()
    step = drop_expired(0, NOW, Retention.from_settings(), 1000)
    assert (step.cutoff, step.deleted) == (None, 0)
    assert BACnetReading.objects.count() == 5 * 144


def test_a_retention_step_deletes_at_most_its_bound(short_retention: None):
    if partitions.partitioned():
        pytest.skip("partitions are dropped whole, at most MAX_DROPS a step: test_partitions.py")
    five_days_every_ten_minutes()
    roll_up_all(NOW, 50_000)
    step = drop_expired(0, NOW, Retention.from_settings(), 100)
    assert (step.deleted, step.more) == (100, True)
    assert BACnetReading.objects.count() == 5 * 144 - 100
