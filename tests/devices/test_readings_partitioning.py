"""devices 0008 converts an existing PostgreSQL readings table that holds rows into a table
partitioned by time, keeping every row and its id, and back. Runs on a database of its own
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
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "tests-only"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", *target, "-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def partitioned(db: psycopg.Connection) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE]
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
