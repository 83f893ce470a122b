"""The partitions of the raw readings table on PostgreSQL (made partitioned by devices 0008).

Theory of operation. The table is partitioned by range of `timestamp`: daily partitions named
TABLE_pYYYYMMDD (the migration also made monthly ones for the months that held rows), and a
DEFAULT partition that takes any row no partition covers, so an insert never fails for want of
one. The history upkeep (maintenance.run_once) keeps today and AHEAD_DAYS days ahead covered.
When it creates a partition for a day the default partition holds rows of (a device's clock
ahead, a backfill older than the oldest partition), those rows are moved into the new partition
in the same transaction: PostgreSQL refuses to attach a range the default still holds rows of.

Retention drops a whole partition once its end is at or before the cutoff (nothing in it is
newer), at most MAX_DROPS per step, and deletes the default partition's expired rows in chunks.
A partition that straddles the cutoff is kept until it has expired whole: raw readings are
kept up to a day longer than BMS_HISTORY_RAW_DAYS says.

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

TABLE = BACnetReading._meta.db_table
DEFAULT = f"{TABLE}_default"
AHEAD_DAYS = 3  # days after today kept covered (the migration made the same)
MAX_DROPS = 10  # partitions dropped per step: each takes a short exclusive lock on the table
LOCK_TIMEOUT_MS = 5000  # how long a partition change waits for its lock

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: the default partition
    end: datetime | None

    @property
    def is_default(self) -> bool:
        return self.start is None


def partitioned() -> bool:
    """Whether the readings table is partitioned (PostgreSQL after devices 0008)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        return cursor.fetchone() is not None


def partitions() -> list[Partition]:
    """The table's partitions, oldest first, the default one last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
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


def create_ahead(now: datetime) -> list[str]:
    """Daily partitions for today and AHEAD_DAYS days after it that no partition covers yet;
    the names of those made."""
    ranges = [p for p in partitions() if not p.is_default]
    made = []
    today = now.astimezone(UTC).date()
    for offset in range(AHEAD_DAYS + 1):
        start = _midnight(today + timedelta(days=offset))
        end = start + timedelta(days=1)
        if any(_overlap(p, start, end) for p in ranges):
            continue
        made.append(create_partition(start, end))
    return made


def _overlap(partition: Partition, start: datetime, end: datetime) -> bool:
    if partition.start is None or partition.end is None:
        return False
    return partition.start < end and start < partition.end


def create_partition(start: datetime, end: datetime) -> str:
    """A partition for [start, end), with the default partition's rows of that range moved
    into it (one transaction: readers see every row throughout).

    Made as a table of its own and then attached: ATTACH locks the parent table only against
    other schema changes (CREATE TABLE ... PARTITION OF would lock out every read and write
    for the moment), and the default partition, which it scans, against everything."""
    name = f"{TABLE}_p{start:%Y%m%d}"
    bounds = [start, end]
    with transaction.atomic(), connection.cursor() as cursor:
        _bounded_lock_wait(cursor)
        # Inserts routed to the default wait until the partition is attached, so no row of the
        # range lands there between the move and the attach (which would then be refused).
        cursor.execute(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE timestamp >= %s AND timestamp < %s "  # noqa: S608
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            bounds,
        )
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", bounds
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


def drop_expired(cutoff: datetime, max_rows: int) -> Dropped:
    """Drop the partitions that end at or before `cutoff` (at most MAX_DROPS), and delete up to
    `max_rows` of the default partition's rows older than it."""
    expired = [
        p for p in partitions() if not p.is_default and p.end is not None and p.end <= cutoff
    ]
    dropped = []
    for partition in expired[:MAX_DROPS]:
        with transaction.atomic(), connection.cursor() as cursor:
            # The foreign keys are deferred: rows of the partition inserted earlier in the same
            # transaction (an outer one) would otherwise forbid the drop until the commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _bounded_lock_wait(cursor)
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {partition.name}")
            cursor.execute(f"DROP TABLE {partition.name}")
        dropped.append(partition.name)
    default_rows = _delete_default_rows(cutoff, max_rows)
    more = len(expired) > MAX_DROPS or default_rows >= max_rows
    return Dropped(dropped, default_rows, more)


def _delete_default_rows(cutoff: datetime, max_rows: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {DEFAULT} WHERE ctid IN (SELECT ctid FROM {DEFAULT} "  # noqa: S608
            f"WHERE timestamp < %s LIMIT %s)",
            [cutoff, max_rows],
        )
        return max(cursor.rowcount, 0)


def default_rows(limit: int) -> int:
    """Rows in the default partition, counted up to `limit` (the upkeep's result shows them:
    they should be few)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {DEFAULT} LIMIT %s) AS held",  # noqa: S608
            [limit],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0
