"""A bucket equals what it summarises, and merging fine buckets equals summarising at once
(property-based, over generated series of mixed values)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bms.history.buckets import Bucket, floor_to, numeric, regroup, summarise

values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-1000, max_value=1000),
    st.sampled_from(["active", "inactive", None, "fault", True, False]),
)
# Times within a few hours, in milliseconds, so several readings share a bucket and a second.
times = st.integers(min_value=1_700_000_000_000, max_value=1_700_000_000_000 + 5 * 3600_000)
readings = st.lists(st.tuples(values, times.map(lambda ms: ms / 1000)), max_size=200)


def expected(readings: list[tuple[Any, float]], resolution: int) -> dict[int, dict[str, Any]]:
    """Each bucket's summary worked out directly from its readings."""
    by_start: dict[int, list[tuple[Any, float]]] = {}
    for value, at in readings:
        by_start.setdefault(floor_to(at, resolution), []).append((value, at))
    summaries = {}
    for start, held in by_start.items():
        numbers = [n for n in (numeric(v) for v, _ in held) if n is not None]
        latest = max(at for _, at in held)
        summaries[start] = {
            "count": len(held),
            "numeric_count": len(numbers),
            "total": sum(numbers),
            "minimum": min(numbers) if numbers else None,
            "maximum": max(numbers) if numbers else None,
            "last": [v for v, at in held if at == latest][-1],
            "last_at": latest,
        }
    return summaries


def assert_matches(buckets: list[Bucket], summaries: dict[int, dict[str, Any]]) -> None:
    assert [b.start for b in buckets] == sorted(summaries)
    for bucket in buckets:
        want = summaries[bucket.start]
        assert bucket.count == want["count"]
        assert bucket.numeric_count == want["numeric_count"]
        assert math.isclose(bucket.total, want["total"], rel_tol=1e-9, abs_tol=1e-6)
        assert bucket.minimum == want["minimum"]
        assert bucket.maximum == want["maximum"]
        assert bucket.last == want["last"]
        assert bucket.last_at == want["last_at"]


@given(readings, st.sampled_from([1, 60, 900, 3600]))
def test_a_bucket_equals_what_it_summarises(readings: list[tuple[Any, float]], resolution: int):
    assert_matches(summarise(readings, resolution), expected(readings, resolution))


@given(readings)
def test_minutes_merged_into_quarters_and_hours_equal_summarising_the_readings_at_once(
    readings: list[tuple[Any, float]],
):
    minutes = summarise(readings, 60)
    quarters = regroup(minutes, 900)
    assert_matches(quarters, expected(readings, 900))
    assert_matches(regroup(quarters, 3600), expected(readings, 3600))


@given(readings)
def test_a_binary_buckets_average_is_the_fraction_of_readings_active(readings: list[Any]):
    binary = [(value, at) for value, at in readings if value in ("active", "inactive")]
    for bucket in summarise(binary, 900):
        held = [v for v, at in binary if floor_to(at, 900) == bucket.start]
        assert bucket.average == held.count("active") / len(held)


def test_values_that_are_not_numbers_are_counted_but_not_averaged():
    (bucket,) = summarise([(None, 0.5), ("fault", 1.0), (3, 2.0), (float("inf"), 3.0)], 60)
    assert (bucket.count, bucket.numeric_count, bucket.average) == (4, 1, 3.0)
    assert bucket.last == float("inf")  # the last value as it was, though not a number
