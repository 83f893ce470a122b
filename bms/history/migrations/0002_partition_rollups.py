"""PostgreSQL: the roll-up table becomes partitioned by resolution, and its 1-minute part by week
of `start` (issue 15). SQLite keeps the plain table: this migration does nothing there.

Why: 1-minute buckets are most of the roll-ups (a point polled every 30 s makes half as many
as raw readings) and are kept BMS_HISTORY_1MIN_DAYS (90) days; with weekly partitions their
retention drops whole weeks (bms.history.partitions) instead of deleting rows. The coarser
resolutions, few and kept for years, stay in one plain partition (the list's DEFAULT).

How (one transaction, on a database that may hold rows), as devices 0008 does for readings: the
plain table is renamed aside; a table partitioned BY LIST (resolution) is made with its columns;
history_readingrollup_60 (FOR VALUES IN (60)) partitioned BY RANGE (start) in weeks from Monday,
from the week of the oldest 1-minute bucket (at most MAX_WEEKS back) to AHEAD_WEEKS ahead, with
a DEFAULT; history_readingrollup_other for the other resolutions; rows copied with their ids,
identity continued, the plain table dropped, primary key (id, resolution, start), indexes
(the partial unique ones by subject include resolution and start) and constraints made again
with their names. Django still sees `id` as the primary key (one identity sequence).
Reverse: back to a plain table with primary key (id).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import migrations

TABLE = "history_readingrollup"
ONE_MINUTE = f"{TABLE}_60"
ASIDE = f"{TABLE}_before_0002"
AHEAD_WEEKS = 2
MAX_WEEKS = 60


def _fetch(cursor: Any, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    cursor.execute(statement, params or [])
    return list(cursor.fetchall())


def _is_partitioned(cursor: Any) -> bool:
    rows = _fetch(
        cursor, "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE]
    )
    return bool(rows)


def _definitions(cursor: Any) -> tuple[list[str], list[tuple[str, str]]]:
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
    return [row[0].replace(" ON ONLY ", " ON ") for row in indexes], list(constraints)


def _next_id(cursor: Any) -> int:
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
    last, called = _fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]
    largest = _fetch(cursor, f"SELECT coalesce(max(id), 0) FROM {TABLE}")[0][0]
    return max(int(last) + (1 if called else 0), int(largest) + 1)


def _weeks(first: datetime | None, today: date) -> list[date]:
    """Mondays from the week of `first` (at most MAX_WEEKS back) to AHEAD_WEEKS ahead."""
    this_week = today - timedelta(days=today.weekday())
    week = this_week
    if first is not None:
        day = first.astimezone(UTC).date()
        week = max(day - timedelta(days=day.weekday()), this_week - timedelta(weeks=MAX_WEEKS))
    mondays = []
    while week <= this_week + timedelta(weeks=AHEAD_WEEKS):
        mondays.append(week)
        week += timedelta(weeks=1)
    return mondays


def _stamp(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


def _rebuild(cursor: Any, partitioned: bool) -> None:
    indexes, constraints = _definitions(cursor)
    next_id = _next_id(cursor)
    first = _fetch(cursor, f"SELECT min(start) FROM {TABLE} WHERE resolution = 60")[0][0]
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {ASIDE}")
    like = (
        f"LIKE {ASIDE} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE "
        "INCLUDING COMPRESSION"
    )
    if partitioned:
        cursor.execute(f"CREATE TABLE {TABLE} ({like}) PARTITION BY LIST (resolution)")
        cursor.execute(
            f"CREATE TABLE {ONE_MINUTE} PARTITION OF {TABLE} FOR VALUES IN (60) "
            "PARTITION BY RANGE (start)"
        )
        for monday in _weeks(first, datetime.now(UTC).date()):
            following = monday + timedelta(weeks=1)
            cursor.execute(
                f"CREATE TABLE {ONE_MINUTE}_p{monday:%Y%m%d} PARTITION OF {ONE_MINUTE} "
                f"FOR VALUES FROM ('{_stamp(monday)}') TO ('{_stamp(following)}')"
            )
        cursor.execute(f"CREATE TABLE {ONE_MINUTE}_default PARTITION OF {ONE_MINUTE} DEFAULT")
        cursor.execute(f"CREATE TABLE {TABLE}_other PARTITION OF {TABLE} DEFAULT")
    else:
        cursor.execute(f"CREATE TABLE {TABLE} ({like})")
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {ASIDE}")
    cursor.execute(f"DROP TABLE {ASIDE}")
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
    cursor.execute("SELECT setval(%s, %s, false)", [sequence, next_id])
    if sequence.split(".")[-1].strip('"') != f"{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    key = "(id, resolution, start)" if partitioned else "(id)"
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
        ("history", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
    ]
