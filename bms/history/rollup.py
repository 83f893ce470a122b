"""Rolling readings up into buckets: raw readings into 1-minute buckets, those into 15-minute
ones, those into hours (config.RESOLUTIONS).

Theory of operation. Each resolution has a progress mark (RollupProgress.rolled_until): every
bucket before it is stored. A step reads the level below from the mark up to the last bucket
that has closed (for the first level: ended at least `grace` ago; for the others: rolled up
below), at most `max_rows` rows, cut at a bucket boundary so no bucket is stored half-read,
and replaces the buckets of that interval in one transaction with the mark. A step is
therefore safe to repeat and to interrupt. A bucket holding more than `max_rows` rows alone is
read whole (one bucket bounds it). Readings stored later for an interval already rolled up
(a backfill) are not in its buckets; the series query reads raw readings where they are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from bms.history import levels
from bms.history.buckets import floor_to
from bms.history.config import RAW, RESOLUTIONS, finer, grace
from bms.history.models import ReadingRollup, RollupProgress


@dataclass(frozen=True)
class RollupStep:
    resolution: int
    rows_read: int
    buckets: int
    rolled_until: datetime | None
    more: bool  # stopped at max_rows with closed buckets left to roll up


def roll_up_all(now: datetime, max_rows: int) -> list[RollupStep]:
    """One bounded step of each resolution, finest first (each feeds the next)."""
    return [roll_up(resolution, now, max_rows) for resolution in RESOLUTIONS]


def roll_up(resolution: int, now: datetime, max_rows: int) -> RollupStep:
    source = finer(resolution)
    closed = _closed_until(resolution, source, now)
    start = levels.progress(resolution)
    if start is None:
        first = levels.earliest(source)
        start = None if first is None else _floor(first, resolution)
    if start is None or closed is None or start >= closed:
        return RollupStep(resolution, 0, 0, start, more=False)
    rows = levels.level_rows(source, start, closed, max_rows + 1)
    end, more = closed, False
    if len(rows) > max_rows:
        more = True
        end = levels.moment(floor_to(rows[max_rows].bucket_start, resolution))
        if end <= start:  # one bucket holds more than max_rows rows: read it whole
            end = levels.moment(floor_to(rows[0].bucket_start, resolution) + resolution)
            rows = levels.level_rows(source, start, end, None)
    kept = [row for row in rows if row.bucket_start < levels.epoch(end)]
    grouped = levels.group_by_subject(kept, resolution)
    with transaction.atomic():
        ReadingRollup.objects.filter(
            resolution=resolution, start__gte=start, start__lt=end
        ).delete()
        stored = levels.insert_buckets(resolution, grouped)
        RollupProgress.objects.update_or_create(
            resolution=resolution, defaults={"rolled_until": end}
        )
    return RollupStep(resolution, len(kept), stored, end, more)


def _closed_until(resolution: int, source: int, now: datetime) -> datetime | None:
    """The end of the last bucket of `resolution` whose source data is complete."""
    if source == RAW:
        return _floor(now - grace(), resolution)
    below = levels.progress(source)
    return None if below is None else _floor(below, resolution)


def _floor(moment: datetime, resolution: int) -> datetime:
    return levels.moment(floor_to(levels.epoch(moment), resolution))
