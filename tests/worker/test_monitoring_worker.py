"""The real worker process monitors a simulated building: values the devices change on their
own reach the database as COV readings with no poll at all (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.worker.conftest import manage, sql, start_worker

pytestmark = pytest.mark.slow


def wait_for_rows(database_url: str, query: str, *params: Any, timeout: float = 20) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(database_url, query, *params)
        if rows:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"no rows within {timeout}s: {query}")


def test_the_worker_learns_changes_by_cov_without_polling(
    database_url: str, simulator: Any, start_process: Any, bacnet_port: int
) -> None:
    worker = start_worker(
        start_process,
        database_url,
        bacnet_port,
        BACNET_MONITOR_DEFAULT="1",
        BACNET_MONITOR_RELOAD_SECONDS="0.5",
        BACNET_COV_LIFETIME="60",
        # The discovery's I-Am window (the tests' environment says 1 s): the simulator, another
        # process, may answer later on a loaded machine; a prompt answer ends it sooner.
        BACNET_TIMEOUT="5",
    )
    for args in (
        ("discover", "--low", "1000", "--high", "1000"),
        ("read_points", "--device", "1000"),
    ):
        done = manage(database_url, "bacnet_task", *args, "--wait", "--timeout", "30", timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    started = sql(database_url, "SELECT COUNT(*) FROM devices_bacnetreading")[0][0]

    # The simulator moves its analog inputs every 0.5 s; the worker subscribed to them.
    cov = wait_for_rows(
        database_url,
        "SELECT r.point_id, r.value FROM devices_bacnetreading r "
        "JOIN devices_bacnetpoint p ON p.id = r.point_id "
        "WHERE r.source = %s AND p.object_type = %s",
        "cov",
        "analog-input",
    )
    assert cov
    polled = sql(
        database_url,
        "SELECT COUNT(*) FROM devices_bacnetreading r "
        "JOIN devices_bacnetpoint p ON p.id = r.point_id "
        "WHERE r.source = %s AND r.id > %s AND p.object_type = %s",
        "poll",
        started,
        "analog-input",
    )
    assert polled == [(0,)]
    # The point holds the value it was last told.
    point_id = cov[-1][0]
    last = sql(database_url, "SELECT last_value FROM devices_bacnetpoint WHERE id = %s", point_id)
    assert last[0][0] is not None
    # Every simulated object type takes SubscribeCOV, multi-state ones included (they notify on
    # any change of state: bms.bacnet.cov_server.ChangeOfStateCov): nothing is refused.
    assert "refuses COV" not in worker.output()
    refused = sql(database_url, "SELECT cov_refused FROM devices_bacnetdevice")[0][0]
    assert refused in ({}, "{}")
