"""Dropping history past its retention (config.Retention), bounded per step.

Nothing is dropped before the next level has summarised it: raw readings only before the
1-minute roll-up's progress, 1-minute buckets only before the 15-minute roll-up's, and so on;
a level kept for ever (0 days) is never dropped. Rows go in chunks of at most `max_rows` by
primary key, each chunk one statement, so a large backlog never holds a long lock. Raw readings
and 1-minute buckets in partitioned tables (PostgreSQL, bms.history.partitions) go by whole
partitions instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models

from bms.devices.models import BACnetReading
from bms.history import levels, partitions
from bms.history.config import RAW, RESOLUTIONS, Retention, coarser
from bms.history.models import ReadingRollup


@dataclass(frozen=True)
class RetentionStep:
    resolution: int
    cutoff: datetime | None  # older than this was dropped; None: nothing may be dropped
    deleted: int
    more: bool
    partitions_dropped: tuple[str, ...] = ()


def drop_expired_all(now: datetime, retention: Retention, max_rows: int) -> list[RetentionStep]:
    return [drop_expired(level, now, retention, max_rows) for level in (RAW, *RESOLUTIONS)]


def drop_expired(
    resolution: int, now: datetime, retention: Retention, max_rows: int
) -> RetentionStep:
    cutoff = safe_cutoff(resolution, now, retention)
    if cutoff is None:
        return RetentionStep(resolution, None, 0, more=False)
    table = partitions.partitioned_tables().get(resolution)
    if table is not None:
        dropped = partitions.drop_expired(cutoff, max_rows, table)
        return RetentionStep(
            resolution, cutoff, dropped.default_rows, dropped.more, tuple(dropped.partitions)
        )
    if resolution == RAW:
        deleted = _delete_chunk(BACnetReading, "timestamp", cutoff, max_rows, {})
    else:
        where = {"resolution": resolution}
        deleted = _delete_chunk(ReadingRollup, "start", cutoff, max_rows, where)
    return RetentionStep(resolution, cutoff, deleted, more=deleted >= max_rows)


def safe_cutoff(resolution: int, now: datetime, retention: Retention) -> datetime | None:
    """Older than this may go: past its retention, and summarised by the next level."""
    cutoff = retention.cutoff(resolution, now)
    above = coarser(resolution)
    if cutoff is None or above is None:
        return cutoff
    summarised = levels.progress(above)
    if summarised is None:
        return None
    return min(cutoff, summarised)


def _delete_chunk(
    model: type[models.Model],
    time_field: str,
    cutoff: datetime,
    max_rows: int,
    where: dict[str, int],
) -> int:
    """Delete up to `max_rows` rows older than `cutoff` in one statement; how many went.

    Raw SQL on purpose: the ORM's delete() would load the rows to look for cascades and
    signals, and neither table has rows that point at it.
    """
    table = model._meta.db_table
    field = model._meta.get_field(time_field)
    assert isinstance(field, models.Field)
    column = field.column
    conditions = [f"{column} < %s", *(f"{name} = %s" for name in where)]
    params = [connection.ops.adapt_datetimefield_value(cutoff), *where.values(), max_rows]
    statement = (
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} LIMIT %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)
