"""The series query answers from the level that fits the range and the width: raw readings
over short ranges, 1-minute, 15-minute and hourly buckets over longer ones, merged buckets
beyond, and always up to the end of the range (what the roll-up has not reached yet too)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bms.devices.models import BACnetReading
from bms.history.buckets import regroup
from bms.history.levels import EARLIEST, LATEST, epoch, rollup_rows
from bms.history.models import RollupProgress
from bms.history.series import SeriesRefused, series
from tests.history.helpers import NOW, every, maintain, make_points, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def thirty_second_poll(settings: Any) -> int:
    """A point read every 30 s for 3 days, then every 30 s for 60 days more before that at an
    hourly reading; rolled up at NOW. Raw readings are kept 7 days."""
    settings.BMS_HISTORY_RAW_DAYS = 7
    (point,) = make_points(1)
    store(
        point, ((20.0, at) for at in every(3600, NOW - timedelta(days=63), NOW - timedelta(days=3)))
    )
    store(
        point, ((float(i % 10), at) for i, at in enumerate(every(30, NOW - timedelta(days=3), NOW)))
    )
    maintain(NOW)
    return point.pk


@pytest.mark.parametrize(
    ("hours", "resolution", "level", "count"),
    [
        (1, 0, 0, 120),  # 120 raw readings fit 1,000 points
        (6, 0, 0, 720),
        (12, 60, 60, 720),  # 1,440 raw readings do not; 720 minutes do
        (72, 900, 900, 288),
        (60 * 24, 7200, 3600, 720),  # 1,440 hours merged into 2 h buckets
    ],
)
def test_the_level_follows_the_range(
    thirty_second_poll: int, hours: int, resolution: int, level: int, count: int
):
    found = series((thirty_second_poll, None), NOW - timedelta(hours=hours), NOW, 1000, NOW)
    assert (found.resolution, found.level) == (resolution, level)
    assert len(found.buckets) == count
    assert (
        sum(b.count for b in found.buckets)
        == BACnetReading.objects.filter(timestamp__gte=NOW - timedelta(hours=hours)).count()
        or level == 3600
    )


def test_a_series_runs_to_its_end_past_what_is_rolled_up(thirty_second_poll: int):
    later = NOW + timedelta(minutes=10)
    (point,) = make_points(1)
    store(point, [(99.0, NOW + timedelta(minutes=9))])  # after the roll-up ran
    found = series((point.pk, None), later - timedelta(hours=12), later, 1000, later)
    assert found.level == 60
    assert found.buckets[-1].last == 99.0
    assert found.buckets[-1].start == int((NOW + timedelta(minutes=9)).timestamp())


def test_a_point_that_changes_rarely_is_answered_from_raw_readings_over_a_week():
    (point,) = make_points(1)
    store(point, ((float(n), NOW - timedelta(hours=n * 10)) for n in range(1, 16)))
    found = series((point.pk, None), NOW - timedelta(days=7), NOW, 1000, NOW)
    assert found.resolution == 0
    assert len(found.buckets) == 15


def test_backwards_ranges_and_widths_out_of_bounds_are_refused():
    with pytest.raises(SeriesRefused, match="before"):
        series((1, None), NOW, NOW, 10, NOW)
    with pytest.raises(SeriesRefused, match="points"):
        series((1, None), NOW - timedelta(hours=1), NOW, 0, NOW)


def test_a_range_from_the_first_day_of_the_calendar_is_answered():
    (point,) = make_points(1)
    store(point, [(1.0, NOW - timedelta(days=400))])
    found = series((point.pk, None), EARLIEST, LATEST, 7, NOW)
    assert [b.count for b in found.buckets] == [1]
    assert found.time_of(found.buckets[0]).year >= 1


def test_merged_buckets_equal_the_stored_buckets_merged_on_either_database(
    thirty_second_poll: int,
):
    """On PostgreSQL the database merges stored hours into groups; the result is the same
    as merging them in Python (bms.history.buckets.regroup)."""
    start = NOW - timedelta(days=60)
    found = series((thirty_second_poll, None), start, NOW, 500, NOW)
    assert (found.level, found.resolution) == (3600, 3 * 3600)
    stored = [row.bucket for row in rollup_rows(3600, start, NOW, None, (thirty_second_poll, None))]
    # Groups that end before the hourly roll-up's mark (the last one also holds the tail,
    # summarised from finer levels).
    mark = epoch(RollupProgress.objects.get(resolution=3600).rolled_until)
    want = [b for b in regroup(stored, 3 * 3600) if b.start + 3 * 3600 <= mark]
    got_before = [b for b in found.buckets if b.start + 3 * 3600 <= mark]
    assert len(want) > 400
    assert [b.start for b in got_before] == [b.start for b in want]
    for got, expected in zip(got_before, want, strict=True):
        assert (got.count, got.minimum, got.maximum, got.last) == (
            expected.count,
            expected.minimum,
            expected.maximum,
            expected.last,
        )
        assert got.total == pytest.approx(expected.total)
        assert got.last_at == pytest.approx(expected.last_at)
