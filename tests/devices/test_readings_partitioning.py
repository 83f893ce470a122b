"""devices 0008 converts an existing PostgreSQL readings table that holds rows into a table
partitioned by time, keeping every row and its id, and back; history 0002 the roll-up table
(by resolution, its 1-minute part by week). Runs on a database of its own
(made and dropped here), migrated by `manage.py` in a subprocess, whatever this session's
database is."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
TABLE = "devices_bacnetreading"

pytestmark = pytest.mark.slow


@pytest.fixture
def private_database(postgres_url: str) -> Iterator[str]:
    if connection.vendor == "postgresql":
        pytest.skip("database-independent: runs once, in the SQLite pass")
    name = f"test_bms_partitioning_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str, *target: str) -> None:
    manage(url, "migrate", *target, "-v0")


def manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "tests-only"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def partitioned(db: psycopg.Connection, table: str = TABLE) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table]
    ).fetchone()
    return bool(row and row[0])


ROWS = """
INSERT INTO devices_bacnetdevice (site, device_instance, address, mac, name, vendor_name,
    model_name, firmware_revision, application_software_version, description, location,
    segmentation, services_supported, first_seen, last_seen, online, health, health_reason,
    cov_refused, monitor_revision, monitor_mode)
VALUES ('default', 1, '127.0.0.2', '', 'd', '', '', '', '', '', '', '', '[]', now(), now(), true,
    'online', '', '{}', 0, '');
INSERT INTO devices_bacnetpoint (device_id, object_type, instance, name, description, units,
    state_texts, commandable, properties, property_errors, monitor_mode)
SELECT id, 'analog-input', 1, '', '', '', '[]', false, '{}', '{}', '' FROM devices_bacnetdevice;
-- A reading a week for 60 weeks back, and one a year ahead (a device clock): the default's.
INSERT INTO devices_bacnetreading (point_id, value, timestamp, source)
SELECT (SELECT id FROM devices_bacnetpoint), to_jsonb(n), now() - make_interval(days => n * 7),
    'poll' FROM generate_series(0, 59) AS n;
INSERT INTO devices_bacnetreading (point_id, value, timestamp, source)
SELECT (SELECT id FROM devices_bacnetpoint), '-1', now() + interval '1 year', 'poll';
-- The newest id deleted: the identity must not hand it out again.
INSERT INTO devices_bacnetreading (point_id, value, timestamp, source)
SELECT (SELECT id FROM devices_bacnetpoint), '0', now(), 'poll';
DELETE FROM devices_bacnetreading WHERE id = (SELECT max(id) FROM devices_bacnetreading);
"""


def snapshot(db: psycopg.Connection) -> list[tuple[object, ...]]:
    return db.execute(
        f"SELECT id, point_id, value, timestamp, source FROM {TABLE} ORDER BY id"
    ).fetchall()


def test_an_existing_table_with_rows_is_partitioned_and_back(private_database: str):
    migrate(private_database, "devices", "0007")
    with psycopg.connect(private_database, autocommit=True) as db:
        db.execute(ROWS)
        before = snapshot(db)
        deleted_id = before[-1][0] + 1
        assert not partitioned(db)
    migrate(private_database)
    with psycopg.connect(private_database, autocommit=True) as db:
        assert partitioned(db)
        assert snapshot(db) == before
        counts = db.execute(
            f"SELECT tableoid::regclass::text, count(*) FROM {TABLE} GROUP BY 1"
        ).fetchall()
        assert sum(n for _, n in counts) == len(before)
        assert dict(counts)[f"{TABLE}_default"] == 1  # the year ahead; the rest by month/day
        (new_id,) = db.execute(
            f"INSERT INTO {TABLE} (point_id, value, timestamp, source) "
            f"SELECT point_id, '1', now(), 'poll' FROM {TABLE} LIMIT 1 RETURNING id"
        ).fetchone()
        assert new_id > deleted_id
        # The constraints came along: a reading of no subject, or of a missing point, is refused.
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(f"INSERT INTO {TABLE} (value, timestamp, source) VALUES ('1', now(), 'x')")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            db.execute(
                f"INSERT INTO {TABLE} (point_id, value, timestamp, source) "
                "VALUES (999999, '1', now(), 'x')"
            )
        after = snapshot(db)
    migrate(private_database, "devices", "0007")
    with psycopg.connect(private_database, autocommit=True) as db:
        assert not partitioned(db)
        assert snapshot(db) == after


ROLLUPS = "history_readingrollup"
# Roll-ups of every resolution, a bucket every 3 days for 200 days (made through the ORM: the
# device and point tables' columns are whatever the later migrations made them).
MAKE_ROLLUPS = """
from datetime import timedelta
from django.utils import timezone
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.history.models import ReadingRollup
device = BACnetDevice.objects.create(device_instance=1, address="127.0.0.2")
point = BACnetPoint.objects.create(device=device, object_type="analog-input", instance=1)
now = timezone.now().replace(second=0, microsecond=0)
ReadingRollup.objects.bulk_create(
    ReadingRollup(resolution=r, point=point, start=now - timedelta(days=n), count=1,
                  numeric_count=1, total=1.0, minimum=1, maximum=1, last=1, last_at=now)
    for r in (60, 900, 3600) for n in range(0, 200, 3)
)
"""


def rollups(db: psycopg.Connection) -> list[tuple[object, ...]]:
    return db.execute(
        f"SELECT id, resolution, point_id, start, count FROM {ROLLUPS} ORDER BY id"
    ).fetchall()


def test_the_rollups_with_rows_are_partitioned_by_resolution_and_week_and_back(
    private_database: str,
):
    migrate(private_database)  # every other table as the models say
    migrate(private_database, "history", "0001")
    manage(private_database, "shell", "-c", MAKE_ROLLUPS)
    with psycopg.connect(private_database, autocommit=True) as db:
        before = rollups(db)
        assert len(before) == 3 * 67
        assert not partitioned(db, ROLLUPS)
    migrate(private_database)
    with psycopg.connect(private_database, autocommit=True) as db:
        assert partitioned(db, ROLLUPS)
        assert partitioned(db, f"{ROLLUPS}_60")
        assert rollups(db) == before
        where = dict(
            db.execute(
                f"SELECT tableoid::regclass::text = '{ROLLUPS}_other', count(*) "
                f"FROM {ROLLUPS} GROUP BY 1"
            ).fetchall()
        )
        assert where == {True: 2 * 67, False: 67}  # 15 min and 1 h apart; 1 min by week
        (in_default,) = db.execute(f"SELECT count(*) FROM {ROLLUPS}_60_default").fetchone()
        assert in_default == 0
        # The subject's bucket stays unique.
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(
                f"INSERT INTO {ROLLUPS} (resolution, point_id, start, count, numeric_count, "
                "total, minimum, maximum, last, last_at) SELECT resolution, point_id, start, 1, "
                f"1, 1, 1, 1, '1', last_at FROM {ROLLUPS} WHERE resolution = 60 LIMIT 1"
            )
    migrate(private_database, "history", "0001")
    with psycopg.connect(private_database, autocommit=True) as db:
        assert not partitioned(db, ROLLUPS)
        assert rollups(db) == before
