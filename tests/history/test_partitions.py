"""PostgreSQL: the raw readings table is partitioned by time (devices 0008, bms.history.partitions):
partitions are made ahead by the upkeep, an insert with no partition lands in the default one
and is moved out when its partition is made, retention drops whole old partitions and nothing
newer, and reads see every row wherever it lies. The times are in 2030, far from the partitions
the migration made around the day the test database was created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from bms.devices.models import BACnetReading
from bms.history import levels, partitions
from bms.history.buckets import of_reading
from bms.history.config import Retention
from bms.history.levels import insert_buckets
from bms.history.models import ReadingRollup, RollupProgress
from bms.history.retention import drop_expired
from bms.history.series import series
from tests.history.helpers import every, maintain, make_points, store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_postgresql")]

DAY, WEEK = timedelta(days=1), timedelta(days=7)
NOW = datetime(2030, 6, 10, 12, 0, tzinfo=UTC)


def partition_of(reading_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {partitions.TABLE} WHERE id = %s",
            [reading_id],
        )
        return str(cursor.fetchone()[0])


def index_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [table])
        return int(cursor.fetchone()[0])


def constraint_kinds(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contype FROM pg_constraint WHERE conrelid = %s::regclass", [table])
        return {str(row[0]) for row in cursor.fetchall()}


def names(table: partitions.RangeTable = partitions.READINGS) -> set[str]:
    return {p.name for p in partitions.partitions(table)}


def day_name(day: datetime) -> str:
    return f"{partitions.TABLE}_p{day:%Y%m%d}"


def week_name(monday: datetime) -> str:
    return f"{partitions.ONE_MINUTE_ROLLUPS.name}_p{monday:%Y%m%d}"


def test_the_readings_table_is_partitioned_and_the_model_still_works():
    assert partitions.partitioned()
    (point,) = make_points(1)
    made = BACnetReading.objects.bulk_create(
        [BACnetReading(point=point, value=n, timestamp=NOW - n * DAY) for n in range(3)]
    )
    assert all(reading.pk for reading in made)
    again = BACnetReading.objects.get(pk=made[1].pk)
    assert (again.value, again.timestamp) == (1, NOW - DAY)
    again.value = 5
    again.save()
    assert BACnetReading.objects.get(pk=made[1].pk).value == 5
    made[0].delete()
    assert BACnetReading.objects.filter(point=point).count() == 2
    point.delete()  # cascades to its readings through the ORM
    assert not BACnetReading.objects.filter(pk__in=[r.pk for r in made]).exists()


def test_the_upkeep_creates_partitions_ahead_once():
    first = maintain(NOW)[0]
    expected = [day_name(NOW + n * DAY) for n in range(partitions.AHEAD_DAYS + 1)]
    # 2030-06-10 is a Monday: the 1-minute buckets' weeks from it.
    weeks = [week_name(NOW + n * WEEK) for n in range(partitions.ONE_MINUTE_ROLLUPS.ahead + 1)]
    assert first["partitions_created"] == expected + weeks
    assert set(expected) <= names()
    assert set(weeks) <= names(partitions.ONE_MINUTE_ROLLUPS)
    # Attached partitions get the table's indexes and its foreign keys and check.
    assert index_count(expected[0]) == index_count(partitions.TABLE)
    assert constraint_kinds(expected[0]) >= {"f", "c"}
    assert maintain(NOW)[0]["partitions_created"] == []


def test_a_reading_with_no_partition_lands_in_the_default_and_moves_when_its_day_is_made():
    (point,) = make_points(1)
    at = NOW + DAY + timedelta(hours=3)
    store(point, [(7.5, at)])
    reading = BACnetReading.objects.get(point=point)
    assert partition_of(reading.pk) == partitions.DEFAULT
    made = partitions.create_ahead(NOW)
    assert day_name(at) in made
    assert partition_of(reading.pk) == day_name(at)
    moved = BACnetReading.objects.get(pk=reading.pk)
    assert (moved.value, moved.timestamp) == (7.5, at)
    assert partitions.default_rows(10) == 0


def test_retention_drops_whole_expired_partitions_and_nothing_newer(settings: Any):
    settings.BMS_HISTORY_RAW_DAYS = 2
    settings.BMS_HISTORY_1MIN_DAYS = 0
    settings.BMS_HISTORY_15MIN_DAYS = 0
    first_day = NOW.replace(hour=0) - 9 * DAY  # 2030-06-01
    for n in range(10):
        partitions.create_partition(first_day + n * DAY, first_day + (n + 1) * DAY)
    (point,) = make_points(1)
    hourly = every(3600, first_day, NOW)
    old_in_default = [first_day - 12 * DAY + n * timedelta(hours=1) for n in range(5)]
    future_in_default = [NOW + 30 * DAY]
    store(point, [(1.0, at) for at in [*hourly, *old_in_default, *future_in_default]])
    assert partitions.default_rows(100) == 6
    results = maintain(NOW, rows=2)  # small steps: the default's rows go 2 by 2
    cutoff = NOW - 2 * DAY
    dropped = [name for result in results for name in result["partitions_dropped"]]
    # Every day partition that ends by the cutoff, and no other (those the migration made
    # around the day the test database was created are long expired in 2030: dropped too).
    this_test = sorted(name for name in dropped if name.startswith(day_name(NOW)[:-4]))
    assert this_test == [day_name(first_day + n * DAY) for n in range(7)]
    assert day_name(cutoff) in names()
    kept = list(BACnetReading.objects.filter(point=point).values_list("timestamp", flat=True))
    assert sorted(at for at in kept if at >= cutoff) == [
        at for at in [*hourly, *future_in_default] if at >= cutoff
    ]
    # What is kept older than the cutoff is the rest of the cutoff's own day, no more.
    assert min(kept) == cutoff.replace(hour=0)
    assert partitions.default_rows(100) == 1  # the expired default rows went, the future one not
    assert sum(result["raw_deleted"] for result in results) == 5


def test_retention_drops_a_bounded_number_of_partitions_per_step():
    first_day = NOW.replace(hour=0) - 30 * DAY
    for n in range(partitions.MAX_DROPS + 5):
        partitions.create_partition(first_day + n * DAY, first_day + (n + 1) * DAY)
    cutoff = NOW - DAY
    expired = {p.name for p in partitions.partitions() if p.end is not None and p.end <= cutoff}
    steps = [partitions.drop_expired(cutoff, max_rows=100)]
    while steps[-1].more:
        steps.append(partitions.drop_expired(cutoff, max_rows=100))
    assert [len(step.partitions) <= partitions.MAX_DROPS for step in steps] == [True] * len(steps)
    assert len(steps[0].partitions) == partitions.MAX_DROPS
    assert {name for step in steps for name in step.partitions} == expired
    assert not expired & names()


def test_reads_see_rows_across_partitions_and_the_default():
    (point,) = make_points(1)
    partitions.create_partition(NOW.replace(hour=0) - DAY, NOW.replace(hour=0))
    times = every(1800, NOW - 2 * DAY, NOW)  # a day in no partition (default), a day in one
    store(point, [(float(n), at) for n, at in enumerate(times)])
    assert {partition_of(r.pk) for r in BACnetReading.objects.filter(point=point)} == {
        partitions.DEFAULT,
        day_name(NOW - DAY),
    }
    rows = levels.raw_rows(NOW - 2 * DAY, NOW, None, (point.pk, None))
    assert [row.bucket.last for row in rows] == [float(n) for n in range(len(times))]
    answer = series((point.pk, None), NOW - 2 * DAY, NOW, 1000, now=NOW)
    assert [bucket.last for bucket in answer.buckets] == [float(n) for n in range(len(times))]
    newest = BACnetReading.objects.filter(point=point).order_by("-timestamp").first()
    assert newest is not None
    assert newest.timestamp == times[-1]


def test_one_minute_buckets_go_by_whole_weeks_and_nothing_newer(settings: Any):
    settings.BMS_HISTORY_RAW_DAYS = 0
    settings.BMS_HISTORY_1MIN_DAYS = 10
    rollups = partitions.ONE_MINUTE_ROLLUPS
    first_monday = NOW.replace(hour=0) - 3 * WEEK  # 2030-05-20
    for n in range(4):
        partitions.create_partition(first_monday + n * WEEK, first_monday + (n + 1) * WEEK, rollups)
    (point,) = make_points(1)
    starts = every(3600, first_monday - DAY, NOW)  # the first day before any week: the default
    grouped = {
        (point.pk, None): [of_reading(int(at.timestamp()), 1.0, at.timestamp()) for at in starts]
    }
    insert_buckets(60, grouped)
    RollupProgress.objects.create(resolution=900, rolled_until=NOW)  # the 1-minute ones summarised
    step = drop_expired(60, NOW, Retention.from_settings(), 1000)
    cutoff = NOW - 10 * DAY  # 2030-05-31 12:00: the week of 05-20 ends 05-27, before it
    assert step.cutoff == cutoff
    # (The weeks the migration made around the day the test database was created go too.)
    in_2030 = [name for name in step.partitions_dropped if name.startswith(week_name(NOW)[:-4])]
    assert in_2030 == [week_name(first_monday)]
    assert step.deleted == 24  # the day before, in the default partition
    kept = sorted(
        ReadingRollup.objects.filter(resolution=60, point=point).values_list("start", flat=True)
    )
    assert kept == [at for at in starts if at >= first_monday + WEEK]
    assert kept[0] <= cutoff  # the cutoff's own week is kept whole
