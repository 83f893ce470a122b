"""PostgreSQL: the readings table becomes a table partitioned by range of `timestamp` (issue 15).

Why: retention then drops whole old partitions (bms.history.partitions) instead of deleting
rows one by one, and a one-point query touches only the partitions of its range. SQLite keeps
the plain table: this migration does nothing there.

How (one transaction, on a database that may hold rows):
1. the plain table is renamed aside and a partitioned table made with its columns
   (`LIKE ... INCLUDING ...`: the same types, defaults and an identity `id`);
2. partitions: one per month for the past months holding rows (at most MAX_MONTHS back), one
   per day from the first of this month to AHEAD_DAYS ahead, and a DEFAULT partition for
   anything else (older rows, a device clock years ahead): an insert never fails for want of a
   partition, and the history upkeep moves default rows out when it creates their partition;
3. the rows are copied (same ids), the identity continues after the old one, the plain table
   is dropped, and the primary key, indexes and constraints are made again with their old
   names on the partitioned table.

The primary key. A partitioned table's unique constraints must include the partition key, so
the primary key is (id, timestamp). Django still sees `id` as the model's primary key: ids come
from one identity sequence, so they stay unique; only the database no longer enforces it on
its own. Reverse: the same steps back to a plain table with primary key (id).

The partition layout here is a copy (frozen, as a migration must be) of what
bms.history.partitions keeps up afterwards: daily partitions named TABLE_pYYYYMMDD.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import migrations

TABLE = "devices_bacnetreading"
ASIDE = f"{TABLE}_before_0008"
AHEAD_DAYS = 3
MAX_MONTHS = 36


def _fetch(cursor: Any, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    cursor.execute(statement, params or [])
    return list(cursor.fetchall())


def _is_partitioned(cursor: Any) -> bool:
    rows = _fetch(
        cursor,
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
        [TABLE],
    )
    return bool(rows)


def _definitions(cursor: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """The table's index definitions and (name, definition) of its constraints, primary key
    left out (it is made again with the partition key, or without it)."""
    indexes = _fetch(
        cursor,
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY i.indexrelid",
        [TABLE],
    )
    constraints = _fetch(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype <> 'p' AND conparentid = 0 ORDER BY oid",
        [TABLE],
    )
    return [row[0] for row in indexes], [(name, text) for name, text in constraints]


def _next_id(cursor: Any) -> int:
    """The identity's next value: past both the old sequence and the largest id."""
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
    last, called = _fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608
    largest = _fetch(cursor, f"SELECT coalesce(max(id), 0) FROM {TABLE}")[0][0]  # noqa: S608
    return max(int(last) + (1 if called else 0), int(largest) + 1)


def _ranges(first: datetime | None, today: date) -> list[tuple[date, date]]:
    """Monthly ranges for the past months holding rows (at most MAX_MONTHS), then daily ones
    from the first of this month to AHEAD_DAYS ahead."""
    this_month = today.replace(day=1)
    ranges: list[tuple[date, date]] = []
    if first is not None:
        month = first.astimezone(UTC).date().replace(day=1)
        earliest = this_month
        for _ in range(MAX_MONTHS):
            earliest = (earliest - timedelta(days=1)).replace(day=1)
        month = max(month, earliest)
        while month < this_month:
            following = (month + timedelta(days=32)).replace(day=1)
            ranges.append((month, following))
            month = following
    day = this_month
    while day <= today + timedelta(days=AHEAD_DAYS):
        ranges.append((day, day + timedelta(days=1)))
        day += timedelta(days=1)
    return ranges


def _stamp(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


def _rebuild(cursor: Any, partitioned: bool) -> None:
    indexes, constraints = _definitions(cursor)
    next_id = _next_id(cursor)
    first = _fetch(cursor, f"SELECT min(timestamp) FROM {TABLE}")[0][0]  # noqa: S608
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {ASIDE}")
    like = (
        f"LIKE {ASIDE} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE "
        "INCLUDING COMPRESSION"
    )
    if partitioned:
        cursor.execute(f'CREATE TABLE {TABLE} ({like}) PARTITION BY RANGE ("timestamp")')
        for start, end in _ranges(first, datetime.now(UTC).date()):
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{start:%Y%m%d} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{_stamp(start)}') TO ('{_stamp(end)}')"
            )
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    else:
        cursor.execute(f"CREATE TABLE {TABLE} ({like})")
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {ASIDE}")  # noqa: S608
    cursor.execute(f"DROP TABLE {ASIDE}")
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
    cursor.execute("SELECT setval(%s, %s, false)", [sequence, next_id])
    if sequence.split(".")[-1].strip('"') != f"{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    key = '(id, "timestamp")' if partitioned else "(id)"
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY {key}")
    for definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


def partition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _is_partitioned(cursor):
            _rebuild(cursor, partitioned=True)


def unpartition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _is_partitioned(cursor):
            _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0007_config_audit_alarm_actions"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
    ]
