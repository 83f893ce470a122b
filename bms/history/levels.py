"""Reading and writing one level of the history (raw readings or one roll-up resolution) as
buckets per subject. A subject is (point id, virtual object id), one of them None."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from bms.devices.models import BACnetReading
from bms.history.buckets import Bucket, floor_to, of_reading
from bms.history.config import RAW
from bms.history.models import ReadingRollup, RollupProgress

Subject = tuple[int | None, int | None]


@dataclass(frozen=True)
class Row:
    """A reading (as a one-reading bucket) or a stored bucket, of one subject."""

    subject: Subject
    bucket: Bucket

    @property
    def bucket_start(self) -> int:
        return self.bucket.start


def epoch(moment: datetime) -> float:
    return moment.timestamp()


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def moment(seconds: float) -> datetime:
    """Epoch seconds as a UTC time; a bucket reaching past the calendar's ends (a range that
    starts on 0001-01-01, floored to a bucket) starts at the end it reaches for."""
    if seconds <= EARLIEST.timestamp():
        return EARLIEST
    if seconds >= LATEST.timestamp():
        return LATEST
    return datetime.fromtimestamp(seconds, tz=UTC)


def subject_filter(subject: Subject) -> Q:
    point_id, virtual_object_id = subject
    if point_id is not None:
        return Q(point_id=point_id)
    return Q(virtual_object_id=virtual_object_id)


def raw_rows(
    start: datetime, end: datetime, limit: int | None, subject: Subject | None = None
) -> list[Row]:
    """Raw readings with start <= time < end, oldest first, each as a one-reading bucket
    (start: its own time)."""
    readings: QuerySet[BACnetReading] = BACnetReading.objects.filter(
        timestamp__gte=start, timestamp__lt=end
    )
    if subject is not None:
        readings = readings.filter(subject_filter(subject))
    rows = readings.order_by("timestamp", "id").values_list(
        "point_id", "virtual_object_id", "value", "timestamp"
    )
    if limit is not None:
        rows = rows[:limit]
    return [
        Row((point_id, virtual_id), of_reading(floor_to(epoch(at), 1), value, epoch(at)))
        for point_id, virtual_id, value, at in rows
    ]


def raw_count(start: datetime, end: datetime, limit: int, subject: Subject) -> int:
    """How many raw readings of the subject are in the range, counting no further than
    `limit` (an index-only probe: nothing is fetched or decoded)."""
    readings = BACnetReading.objects.filter(
        subject_filter(subject), timestamp__gte=start, timestamp__lt=end
    )
    return readings.order_by()[:limit].count()


def rollup_rows(
    resolution: int,
    start: datetime,
    end: datetime,
    limit: int | None,
    subject: Subject | None = None,
) -> list[Row]:
    """Stored buckets of `resolution` with start <= bucket start < end, oldest first."""
    buckets = ReadingRollup.objects.filter(resolution=resolution, start__gte=start, start__lt=end)
    if subject is not None:
        buckets = buckets.filter(subject_filter(subject))
    # Tuples, not model instances: a year of hours is 8,760 rows on every chart of a year.
    ordered = buckets.order_by("start", "id").values_list(*_BUCKET_COLUMNS)
    if limit is not None:
        ordered = ordered[:limit]
    return [_row(values) for values in ordered]


def grouped_rollup_rows(
    resolution: int, start: datetime, end: datetime, subject: Subject, group: int
) -> list[Row]:
    """PostgreSQL only: the stored buckets of `resolution` in [start, end) merged by the
    database into `group`-second buckets (epoch-aligned, as buckets.regroup aligns them)."""
    point_id, virtual_object_id = subject
    column, subject_id = (
        ("point_id", point_id) if point_id is not None else ("virtual_object_id", virtual_object_id)
    )
    statement = (
        f"SELECT floor(extract(epoch from start) / %s) * %s AS g, sum(count), "  # noqa: S608
        f"sum(numeric_count), sum(total), min(minimum), max(maximum), "
        f"(array_agg(last ORDER BY last_at DESC, id DESC))[1]::text, "
        f"extract(epoch from max(last_at)) "
        f"FROM {ReadingRollup._meta.db_table} WHERE {column} = %s AND resolution = %s "
        f"AND start >= %s AND start < %s GROUP BY g ORDER BY g"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [group, group, subject_id, resolution, start, end])
        rows = cursor.fetchall()
    return [
        Row(
            subject,
            Bucket(
                start=int(g),
                count=int(count),
                numeric_count=int(numeric_count),
                total=float(total),
                minimum=low,
                maximum=high,
                last=json.loads(last) if last is not None else None,
                last_at=float(last_at),
            ),
        )
        for g, count, numeric_count, total, low, high, last, last_at in rows
    ]


_BUCKET_COLUMNS = (
    "point_id",
    "virtual_object_id",
    "start",
    "count",
    "numeric_count",
    "total",
    "minimum",
    "maximum",
    "last",
    "last_at",
)


def _row(values: tuple[Any, ...]) -> Row:
    point_id, virtual_id, start, count, numeric_count, total, low, high, last, last_at = values
    bucket = Bucket(
        start=int(epoch(start)),
        count=count,
        numeric_count=numeric_count,
        total=total,
        minimum=low,
        maximum=high,
        last=last,
        last_at=epoch(last_at),
    )
    return Row((point_id, virtual_id), bucket)


def level_rows(
    resolution: int,
    start: datetime,
    end: datetime,
    limit: int | None,
    subject: Subject | None = None,
) -> list[Row]:
    if resolution == RAW:
        return raw_rows(start, end, limit, subject)
    return rollup_rows(resolution, start, end, limit, subject)


def as_bucket(row: ReadingRollup) -> Bucket:
    return Bucket(
        start=int(epoch(row.start)),
        count=row.count,
        numeric_count=row.numeric_count,
        total=row.total,
        minimum=row.minimum,
        maximum=row.maximum,
        last=row.last,
        last_at=epoch(row.last_at),
    )


def group_by_subject(rows: Iterable[Row], resolution: int) -> dict[Subject, list[Bucket]]:
    """Rows merged into `resolution`-second buckets per subject, oldest first."""
    grouped: dict[Subject, dict[int, Bucket]] = {}
    for row in rows:
        subject, bucket = row.subject, row.bucket
        start = floor_to(bucket.start, resolution)
        held = grouped.setdefault(subject, {}).get(start)
        grouped[subject][start] = (
            replace(bucket, start=start) if held is None else held.merged(bucket, start)
        )
    return {
        subject: [by_start[s] for s in sorted(by_start)] for subject, by_start in grouped.items()
    }


def insert_buckets(resolution: int, grouped: dict[Subject, list[Bucket]]) -> int:
    """Store buckets with plain executemany statements: bulk_create spent ~0.4 ms a row
    preparing values (3.8 s for 9,000 buckets, measured), too long for the shared ORM thread."""
    table = ReadingRollup._meta.db_table
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    statement = (
        f"INSERT INTO {table} (resolution, point_id, virtual_object_id, start, count, "  # noqa: S608
        f"numeric_count, total, minimum, maximum, last, last_at) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, {json_param}, %s)"
    )
    stamp = connection.ops.adapt_datetimefield_value
    rows = [
        (
            resolution,
            point_id,
            virtual_object_id,
            stamp(moment(bucket.start)),
            bucket.count,
            bucket.numeric_count,
            bucket.total,
            bucket.minimum,
            bucket.maximum,
            json.dumps(bucket.last),
            stamp(moment(bucket.last_at)),
        )
        for (point_id, virtual_object_id), buckets in grouped.items()
        for bucket in buckets
    ]
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)
    return len(rows)


def progress(resolution: int) -> datetime | None:
    """Where the roll-up of `resolution` has got (None: it has not started)."""
    row = RollupProgress.objects.filter(resolution=resolution).first()
    return None if row is None else row.rolled_until


def earliest(resolution: int) -> datetime | None:
    """The time of the oldest data of a level."""
    if resolution == RAW:
        readings = BACnetReading.objects.order_by("timestamp")
        return readings.values_list("timestamp", flat=True).first()
    rollups = ReadingRollup.objects.filter(resolution=resolution).order_by("start")
    return rollups.values_list("start", flat=True).first()
