"""A subject's history over a time range at about `width` points: the series the charts, the
API and the CSV exports read.

Which level answers: raw readings when they are still kept for the whole range and there are
no more than `width` of them (a point that changes by COV a few times a day stays exact over
weeks); otherwise the finest roll-up with no more than `width` buckets in the range, or the
coarsest, its buckets then merged into groups so that at most `width` remain. The part of the
range a roll-up has not reached yet (its last minutes, or more when it lags) is summarised on
the fly from the level below, so a series always runs up to `end`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from bms.history import levels
from bms.history.buckets import Bucket, floor_to, regroup
from bms.history.config import NAMES, RAW, RESOLUTIONS, Retention, finer
from bms.history.levels import Subject

MAX_WIDTH = 10_000


class SeriesRefused(ValueError):
    """A request for a series that cannot be answered; the message says why."""


@dataclass(frozen=True)
class Series:
    start: datetime
    end: datetime
    resolution: int  # seconds per bucket (0: raw readings)
    level: int  # the level read (RAW or a roll-up resolution)
    buckets: list[Bucket]

    @property
    def resolution_name(self) -> str:
        return NAMES.get(self.resolution, f"{self.resolution} s")

    def time_of(self, bucket: Bucket) -> datetime:
        """A raw reading's own time; a bucket's start."""
        return levels.moment(bucket.last_at if self.resolution == RAW else bucket.start)


def series(
    subject: Subject,
    start: datetime,
    end: datetime,
    width: int,
    now: datetime | None = None,
) -> Series:
    if end <= start:
        raise SeriesRefused("start must be before end")
    if not 1 <= width <= MAX_WIDTH:
        raise SeriesRefused(f"points must be between 1 and {MAX_WIDTH}")
    raw_kept_from = Retention.from_settings().cutoff(RAW, now or timezone.now())
    raw_kept = raw_kept_from is None or start >= raw_kept_from
    if raw_kept and levels.raw_count(start, end, width + 1, subject) <= width:
        raw = levels.raw_rows(start, end, width, subject)
        return Series(start, end, RAW, RAW, [row.bucket for row in raw])
    span = (end - start).total_seconds()
    level = choose_level(span, width)
    # Buckets of the level, or groups of them when the level has more than `width` in the span.
    group = level if span / level <= width else math.ceil(span / width / level) * level
    buckets = _buckets(subject, level, start, end, group)
    if group > level:
        buckets = regroup(buckets, group)
    return Series(start, end, group, level, buckets)


def choose_level(span_seconds: float, width: int) -> int:
    """The finest roll-up with at most `width` buckets in the span, else the coarsest."""
    for resolution in RESOLUTIONS:
        if span_seconds / resolution <= width:
            return resolution
    return RESOLUTIONS[-1]


def _buckets(
    subject: Subject, resolution: int, start: datetime, end: datetime, group: int | None = None
) -> list[Bucket]:
    """The subject's buckets of `resolution` from the bucket holding `start` up to `end`:
    stored ones up to the roll-up's progress, the rest summarised from the level below. With
    a `group` (a multiple of `resolution`) the stored ones may come already merged into groups
    (PostgreSQL merges them: a year of hours is 8,760 rows, its groups at most `width`); the
    caller merges the rest."""
    low = levels.moment(floor_to(levels.epoch(start), resolution))
    mark = levels.progress(resolution) or low
    stored: list[Bucket] = []
    if mark > low:
        if group and group > resolution and connection.vendor == "postgresql":
            rows = levels.grouped_rollup_rows(resolution, low, min(end, mark), subject, group)
        else:
            rows = levels.rollup_rows(resolution, low, min(end, mark), None, subject)
        stored = [row.bucket for row in rows]
    tail_start = max(low, mark)
    if tail_start >= end:
        return stored
    below = finer(resolution)
    if below == RAW:
        tail_rows = levels.raw_rows(tail_start, end, None, subject)
    else:
        finer_buckets = _buckets(subject, below, tail_start, end)
        tail_rows = [levels.Row(subject, bucket) for bucket in finer_buckets]
    tail = levels.group_by_subject(tail_rows, resolution).get(subject, [])
    return stored + tail
