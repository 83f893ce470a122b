"""Tables partitioned by time on PostgreSQL: the raw readings (devices 0008) by day, and the
1-minute roll-ups (history 0002: the roll-up table by resolution, its 1-minute part by week).

Theory of operation. A partitioned table here (a RangeTable) has partitions by range of its
time column, named TABLE_pYYYYMMDD after their start (the migrations also made monthly ones for
the readings' past months), and a DEFAULT partition that takes any row no partition covers, so
an insert never fails for want of one. The history upkeep (maintenance.run_once) keeps the
current period and `ahead` more covered. When it creates a partition for a range the default
partition holds rows of (a device's clock ahead, a backfill older than the oldest partition),
those rows are moved into the new partition in the same transaction: PostgreSQL refuses to
attach a range the default still holds rows of.

Retention drops a whole partition once its end is at or before the cutoff (nothing in it is
newer), at most MAX_DROPS per step, and deletes the default partition's expired rows in chunks.
A partition that straddles the cutoff is kept until it has expired whole: raw readings are kept
up to a day longer than BMS_HISTORY_RAW_DAYS says, 1-minute buckets up to a week longer.

On SQLite, or a PostgreSQL table that is not partitioned, `partitioned()` is False and the
callers keep the plain path (row deletes in chunks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction

from bms.devices.models import BACnetReading
from bms.history.config import RAW

MAX_DROPS = 10  # partitions dropped per step: each takes a short exclusive lock on the table
LOCK_TIMEOUT_MS = 5000  # how long a partition change waits for its lock


@dataclass(frozen=True)
class RangeTable:
    """A table partitioned by range of `column`, in partitions of `period` (days: 1 or 7,
    weeks starting on Monday), `ahead` periods after the current one kept covered."""

    name: str
    column: str
    period_days: int
    ahead: int

    @property
    def default(self) -> str:
        return f"{self.name}_default"

    def period_start(self, day: date) -> date:
        return day if self.period_days == 1 else day - timedelta(days=day.weekday())


READINGS = RangeTable(BACnetReading._meta.db_table, "timestamp", period_days=1, ahead=3)
# The 1-minute buckets (history 0002: the roll-up table is partitioned by resolution, and its
# 60-second partition by week of `start`).
ONE_MINUTE_ROLLUPS = RangeTable("history_readingrollup_60", "start", period_days=7, ahead=2)

# The level (bms.history.config: RAW or a roll-up resolution) each partitioned table holds.
BY_LEVEL = {RAW: READINGS, 60: ONE_MINUTE_ROLLUPS}

TABLE = READINGS.name
DEFAULT = READINGS.default
AHEAD_DAYS = READINGS.ahead  # days after today kept covered (the migration made the same)

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: the default partition
    end: datetime | None

    @property
    def is_default(self) -> bool:
        return self.start is None


def partitioned(table: RangeTable = READINGS) -> bool:
    """Whether the table is partitioned (PostgreSQL after its migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table.name]
        )
        return cursor.fetchone() is not None


def partitioned_tables() -> dict[int, RangeTable]:
    """{level: table} of the levels whose table is partitioned here (none on SQLite)."""
    return {level: table for level, table in BY_LEVEL.items() if partitioned(table)}


def partitions(table: RangeTable = READINGS) -> list[Partition]:
    """The table's partitions, oldest first, the default one last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table.name],
        )
        rows = cursor.fetchall()
    found = [_partition(name, bound) for name, bound in rows]
    return sorted(found, key=lambda p: (p.is_default, p.start or datetime.max.replace(tzinfo=UTC)))


def _partition(name: str, bound: str) -> Partition:
    if bound == "DEFAULT":
        return Partition(name, None, None)
    match = _BOUNDS.search(bound)
    if match is None:
        raise ValueError(f"partition {name} has bounds this code does not know: {bound}")
    start, end = (datetime.fromisoformat(text) for text in match.groups())
    return Partition(name, start, end)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def create_ahead(now: datetime, table: RangeTable = READINGS) -> list[str]:
    """Partitions for the current period and `table.ahead` after it that no partition covers
    yet; the names of those made."""
    ranges = [p for p in partitions(table) if not p.is_default]
    made = []
    first = table.period_start(now.astimezone(UTC).date())
    for offset in range(table.ahead + 1):
        start = _midnight(first + timedelta(days=offset * table.period_days))
        end = start + timedelta(days=table.period_days)
        if any(_overlap(p, start, end) for p in ranges):
            continue
        made.append(create_partition(start, end, table))
    return made


def _overlap(partition: Partition, start: datetime, end: datetime) -> bool:
    if partition.start is None or partition.end is None:
        return False
    return partition.start < end and start < partition.end


def create_partition(start: datetime, end: datetime, table: RangeTable = READINGS) -> str:
    """A partition for [start, end), with the default partition's rows of that range moved
    into it (one transaction: readers see every row throughout).

    Made as a table of its own and then attached: ATTACH locks the parent table only against
    other schema changes (CREATE TABLE ... PARTITION OF would lock out every read and write
    for the moment), and the default partition, which it scans, against everything."""
    name = f"{table.name}_p{start:%Y%m%d}"
    bounds = [start, end]
    column = table.column
    with transaction.atomic(), connection.cursor() as cursor:
        _bounded_lock_wait(cursor)
        # Inserts routed to the default wait until the partition is attached, so no row of the
        # range lands there between the move and the attach (which would then be refused).
        cursor.execute(f"LOCK TABLE {table.default} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {table.default} WHERE {column} >= %s "  # noqa: S608
            f"AND {column} < %s RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            bounds,
        )
        cursor.execute(
            f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
            bounds,
        )
    return name


def _bounded_lock_wait(cursor: Any) -> None:
    """Give up (the step fails, the next one tries again) rather than wait behind a long
    reader for a lock every reader and writer then queues behind."""
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")


@dataclass(frozen=True)
class Dropped:
    partitions: list[str]
    default_rows: int
    more: bool


def drop_expired(cutoff: datetime, max_rows: int, table: RangeTable = READINGS) -> Dropped:
    """Drop the partitions that end at or before `cutoff` (at most MAX_DROPS), and delete up to
    `max_rows` of the default partition's rows older than it."""
    expired = [
        p for p in partitions(table) if not p.is_default and p.end is not None and p.end <= cutoff
    ]
    dropped = []
    for partition in expired[:MAX_DROPS]:
        with transaction.atomic(), connection.cursor() as cursor:
            # The foreign keys are deferred: rows of the partition inserted earlier in the same
            # transaction (an outer one) would otherwise forbid the drop until the commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _bounded_lock_wait(cursor)
            cursor.execute(f"ALTER TABLE {table.name} DETACH PARTITION {partition.name}")
            cursor.execute(f"DROP TABLE {partition.name}")
        dropped.append(partition.name)
    default_rows = _delete_default_rows(table, cutoff, max_rows)
    more = len(expired) > MAX_DROPS or default_rows >= max_rows
    return Dropped(dropped, default_rows, more)


def _delete_default_rows(table: RangeTable, cutoff: datetime, max_rows: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table.default} WHERE ctid IN (SELECT ctid FROM {table.default} "  # noqa: S608
            f"WHERE {table.column} < %s LIMIT %s)",
            [cutoff, max_rows],
        )
        return max(cursor.rowcount, 0)


def default_rows(limit: int, table: RangeTable = READINGS) -> int:
    """Rows in the default partition, counted up to `limit` (the upkeep's result shows them:
    they should be few)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table.default} LIMIT %s) AS held",  # noqa: S608
            [limit],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0
