"""Stored roll-ups equal what they summarise, whatever the bound on rows per step, and a
bucket is only rolled up once it has closed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms.devices.models import BACnetReading
from bms.history.buckets import summarise
from bms.history.levels import as_bucket, epoch
from bms.history.models import ReadingRollup, RollupProgress
from bms.history.rollup import roll_up
from tests.history.helpers import NOW, maintain, make_points, store

pytestmark = pytest.mark.django_db

values = st.one_of(
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
    st.sampled_from(["active", "inactive", None, 3]),
)
# Up to 3 hours before NOW, in whole milliseconds (what the databases keep exactly).
ages = st.integers(min_value=200_000, max_value=3 * 3600_000)
series = st.lists(st.tuples(st.integers(0, 1), values, ages), max_size=120)


def stored(resolution: int, point_id: int) -> list[Any]:
    rows = ReadingRollup.objects.filter(resolution=resolution, point_id=point_id)
    return [as_bucket(row) for row in rows.order_by("start")]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(series, st.sampled_from([3, 17, 50_000]))
def test_rolled_up_buckets_equal_what_they_summarise(
    db: Any, generated: list[tuple[int, Any, int]], rows: int
):
    BACnetReading.objects.all().delete()
    ReadingRollup.objects.all().delete()
    RollupProgress.objects.all().delete()
    points = make_points(2)
    for index, point in enumerate(points):
        store(
            point,
            (
                (value, NOW - timedelta(milliseconds=age))
                for which, value, age in generated
                if which == index
            ),
        )
    maintain(NOW, rows=rows)
    for point in points:
        # In storage order: of two readings at one time, the later stored is the last.
        stored_order = BACnetReading.objects.filter(point=point).order_by("timestamp", "id")
        readings = [(r.value, epoch(r.timestamp)) for r in stored_order]
        for resolution in (60, 900, 3600):
            # Buckets still open at NOW (within the grace) are not rolled up yet.
            mark = RollupProgress.objects.filter(resolution=resolution).first()
            until = epoch(mark.rolled_until) if mark else float("-inf")
            closed = [(v, at) for v, at in readings if at < until]
            want = summarise(closed, resolution)
            got = stored(resolution, point.pk)
            assert [b.start for b in got] == [b.start for b in want]
            for g, w in zip(got, want, strict=True):
                assert (g.count, g.numeric_count, g.minimum, g.maximum) == (
                    w.count,
                    w.numeric_count,
                    w.minimum,
                    w.maximum,
                )
                assert g.total == pytest.approx(w.total, rel=1e-9, abs=1e-6)
                assert (g.last, g.last_at) == (w.last, w.last_at)


def test_a_bucket_is_rolled_up_only_after_it_has_closed_and_its_grace_passed(settings: Any):
    settings.BMS_HISTORY_GRACE_SECONDS = 120
    (point,) = make_points(1)
    store(point, [(1.0, NOW - timedelta(seconds=150)), (2.0, NOW - timedelta(seconds=30))])
    step = roll_up(60, NOW, 1000)
    # 11:57:30 is in the 11:57 bucket, closed at 11:58 = NOW - 120 s; 11:59:30 is not.
    assert step.rolled_until == NOW - timedelta(minutes=2)
    assert [b.count for b in stored(60, point.pk)] == [1]
    assert roll_up(60, NOW + timedelta(minutes=2), 1000).buckets == 1
    assert [b.last for b in stored(60, point.pk)] == [1.0, 2.0]


def test_a_minute_with_more_readings_than_a_step_may_read_is_rolled_up_whole():
    points = make_points(2)
    at = NOW - timedelta(minutes=10)
    for point in points:
        store(point, [(float(n), at + timedelta(milliseconds=n)) for n in range(30)])
    step = roll_up(60, NOW, 10)
    assert step.rows_read == 60
    assert step.buckets == 2
    assert [b.count for b in stored(60, points[0].pk)] == [30]


def test_the_upkeep_result_says_what_it_did():
    (point,) = make_points(1)
    store(point, [(float(n), NOW - timedelta(minutes=30, seconds=-n)) for n in range(120)])
    (result,) = maintain(NOW)
    assert result["readings_rolled_up"] == 120
    assert result["buckets"] == {"1 min": 2, "15 min": 1, "1 h": 0}
    assert result["more"] is False
