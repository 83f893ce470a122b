"""Buckets of readings: what a roll-up keeps of the readings in an interval, and how buckets
merge into coarser ones. Pure code (no Django, no database), so the property tests can check
that a bucket equals what it summarises, and that merging buckets equals summarising their
readings at once.

A reading's value is JSON as BACnet gave it. Numbers count as numbers; a binary object's
"active"/"inactive" (and a boolean) count as 1/0, so a binary bucket's average is the fraction
of its readings that were active. Anything else (None, a string, a list) is counted and may be
the bucket's last value, but adds nothing to min/max/sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

BINARY_NUMBERS = {"active": 1.0, "inactive": 0.0}


def numeric(value: Any) -> float | None:
    """The number a value counts as in min/max/average, or None."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return BINARY_NUMBERS.get(value)
    return None


def floor_to(seconds: float, resolution: int) -> int:
    """The start (epoch seconds) of the `resolution`-second bucket holding `seconds`."""
    return math.floor(seconds / resolution) * resolution


@dataclass(frozen=True)
class Bucket:
    """The readings of one subject with start <= time < start + resolution (epoch seconds)."""

    start: int
    count: int
    numeric_count: int
    total: float
    minimum: float | None
    maximum: float | None
    last: Any
    last_at: float  # epoch seconds of the last reading

    @property
    def average(self) -> float | None:
        return self.total / self.numeric_count if self.numeric_count else None

    def merged(self, other: Bucket, start: int) -> Bucket:
        """This bucket and `other` (of the same subject) as one bucket starting at `start`."""
        later = other if other.last_at >= self.last_at else self
        return Bucket(
            start=start,
            count=self.count + other.count,
            numeric_count=self.numeric_count + other.numeric_count,
            total=self.total + other.total,
            minimum=_pick(min, self.minimum, other.minimum),
            maximum=_pick(max, self.maximum, other.maximum),
            last=later.last,
            last_at=later.last_at,
        )


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(choose(a, b))


def of_reading(start: int, value: Any, at: float) -> Bucket:
    number = numeric(value)
    return Bucket(
        start=start,
        count=1,
        numeric_count=0 if number is None else 1,
        total=0.0 if number is None else number,
        minimum=number,
        maximum=number,
        last=value,
        last_at=at,
    )


def summarise(readings: Iterable[tuple[Any, float]], resolution: int) -> list[Bucket]:
    """Buckets of `resolution` seconds over (value, epoch seconds) readings of one subject,
    oldest first; only buckets that hold a reading."""
    buckets: dict[int, Bucket] = {}
    for value, at in readings:
        start = floor_to(at, resolution)
        one = of_reading(start, value, at)
        held = buckets.get(start)
        buckets[start] = one if held is None else held.merged(one, start)
    return [buckets[start] for start in sorted(buckets)]


def regroup(buckets: Iterable[Bucket], resolution: int) -> list[Bucket]:
    """Buckets merged into coarser ones of `resolution` seconds (a multiple of theirs)."""
    merged: dict[int, Bucket] = {}
    for bucket in buckets:
        start = floor_to(bucket.start, resolution)
        held = merged.get(start)
        merged[start] = replace(bucket, start=start) if held is None else held.merged(bucket, start)
    return [merged[start] for start in sorted(merged)]
