"""The worker as a real subprocess against the simulated building, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from typing import Any

import pytest

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.realtime import groups
from bms.realtime.publish import POINTS_EVENTS
from tests.worker.conftest import manage, sql, start_worker

pytestmark = pytest.mark.slow


def run_task(database_url: str, *args: str, timeout: float = 40) -> dict[str, Any]:
    done = manage(
        database_url,
        "bacnet_task",
        *args,
        "--wait",
        "--timeout",
        str(timeout),
        timeout=timeout + 30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The last line is "task N completed: {result JSON}".
    last = done.stdout.strip().splitlines()[-1]
    status, _, result = last.partition(": ")
    return {"status": status.split()[-1], **json.loads(result)}


def assert_collect_published_what_it_stored(database_url: str) -> None:
    """The last collect's live updates (database channel layer, one message per device group)
    carry each point's stored value, time and flags: built from memory, they must agree."""

    def decoded(column: Any) -> Any:  # SQLite gives JSON text; PostgreSQL, values already
        return json.loads(column) if database_url.startswith("sqlite") else column

    stored = {
        row[0]: (decoded(row[1]), row[2], decoded(row[3]), row[4])
        for row in sql(
            database_url,
            "SELECT id, last_value, last_value_at, status_flags, device_id "
            "FROM devices_bacnetpoint WHERE object_type <> 'trend-log'",
        )
    }
    messages = [
        decoded(row[1]) | {"group": row[0]}
        for row in sql(
            database_url, 'SELECT "group", payload FROM realtime_realtimemessage ORDER BY id'
        )
    ]
    latest: dict[int, dict[str, Any]] = {}
    for message in messages:
        # One building-wide message per store batch, each device's values an event of its own
        # (bms.realtime.publish.apublish_point_readings).
        if message.get("type") != POINTS_EVENTS:
            continue
        assert message["group"] == groups.POINTS
        for event in message["events"]:
            assert event["type"] == "points"
            latest.update({point["id"]: point for point in event["points"]})
    assert set(latest) == set(stored)
    for point_id, point in latest.items():
        value, _value_at, flags, device_pk = stored[point_id]
        assert (point["value"], point["status_flags"], point["device_id"]) == (
            value,
            flags,
            device_pk,
        ), point_id
        assert point["value_at"] is not None


def test_discover_collect_and_write_reach_the_simulated_building(
    database_url: str, simulator: Any, start_process: Any, bacnet_port: int
) -> None:
    # A discovery collects I-Ams for BACNET_TIMEOUT (1 s in the tests' environment) at most: a
    # loaded machine's simulator process may answer later than that. Answers that come at once
    # end it sooner (0.5 s after the last), so the bound costs nothing when all is well.
    start_worker(start_process, database_url, bacnet_port, BACNET_TIMEOUT="5")

    found = run_task(database_url, "discover", "--low", "1000", "--high", "1999")
    assert found["status"] == "completed", found
    assert found["devices"] == [1000, 1001, 1002, 1003]
    devices = sql(
        database_url,
        "SELECT device_instance, name FROM devices_bacnetdevice ORDER BY device_instance",
    )
    assert [row[0] for row in devices] == [1000, 1001, 1002, 1003]
    assert all(row[1] for row in devices), devices

    # Within BACNET_DISCOVERY_CACHE_SECONDS the same discovery answers from the last scan...
    again = run_task(database_url, "discover", "--low", "1000", "--high", "1999")
    assert (again["cached"], again["scan_id"]) == (True, found["scan_id"])
    # ...unless forced, or asked with other parameters.
    forced = run_task(database_url, "discover", "--low", "1000", "--high", "1999", "--force")
    assert forced["cached"] is False
    assert forced["scan_id"] != found["scan_id"]
    other = run_task(database_url, "discover", "--low", "1001", "--high", "1001")
    assert (other["cached"], other["devices"]) == (False, [1001])

    # The RPM-less device (index 2 = 1002) and the segmentation-less one (1001) included.
    collected = run_task(database_url, "collect")
    assert collected["status"] == "completed", collected
    assert collected["failed_devices"] == []
    per_device = dict(
        sql(
            database_url,
            "SELECT d.device_instance, COUNT(p.id) FROM "
            "devices_bacnetpoint p JOIN devices_bacnetdevice d ON p.device_id=d.id "
            # Trend logs are stored as points too (issue 15) but have no value to collect.
            "WHERE p.object_type <> 'trend-log' GROUP BY d.device_instance",
        )
    )
    assert set(per_device) == {1000, 1001, 1002, 1003}
    assert all(count >= 20 for count in per_device.values()), per_device
    readings_before = sql(database_url, "SELECT COUNT(*) FROM devices_bacnetreading")[0][0]
    run_task(database_url, "collect")
    readings_after = sql(database_url, "SELECT COUNT(*) FROM devices_bacnetreading")[0][0]
    assert readings_after - readings_before >= sum(per_device.values())
    value, flags = sql(
        database_url,
        "SELECT last_value, status_flags FROM devices_bacnetpoint "
        "WHERE object_type='analog-input' ORDER BY id LIMIT 1",
    )[0]
    assert isinstance(as_json(value), float)
    assert as_json(flags) == [False, False, False, False]
    assert_collect_published_what_it_stored(database_url)

    point_id, instance = sql(
        database_url,
        "SELECT p.id, p.instance FROM devices_bacnetpoint p JOIN "
        "devices_bacnetdevice d ON p.device_id=d.id WHERE d.device_instance=1000 AND "
        "p.object_type='analog-value' AND p.commandable ORDER BY p.instance LIMIT 1",
    )[0]
    written = run_task(
        database_url, "write_point", "--point", str(point_id), "--value", "21.5", "--priority", "8"
    )
    assert written["status"] == "completed", written
    assert asyncio.run(read_remote(bacnet_port, "127.0.0.2", f"analog-value,{instance}")) == 21.5
    audit = sql(database_url, "SELECT accepted, priority FROM devices_writeaudit")
    assert audit == [(True, 8)] or audit == [(1, 8)]


def as_json(column: Any) -> Any:
    """SQLite hands JSON columns back as text, PostgreSQL as Python values."""
    return json.loads(column) if isinstance(column, str) else column


async def read_remote(port: int, host: str, objid: str) -> Any:
    from bacpypes3.pdu import Address

    app = await open_application(
        EngineConfig(address=f"127.0.0.250/8:{port}", device_instance=4000)
    )
    try:
        return await asyncio.wait_for(
            app.read_property(Address(f"{host}:{port}"), objid, "present-value"), 5
        )
    finally:
        close_application(app)


def test_sigterm_stops_the_worker_cleanly_and_frees_the_port(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    worker = start_worker(start_process, database_url, bacnet_port)
    assert worker.stop(signal.SIGTERM, timeout=10) == 0, worker.output()
    assert "stopped" in worker.output()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", bacnet_port))  # raises if the worker left the port bound


def queue_slow_discovery(database_url: str) -> int:
    """A discovery aimed at a silent host: it runs for the whole Who-Is timeout (3 s here)."""
    queued = manage(database_url, "bacnet_task", "discover", "--address", "127.0.0.250", "--force")
    assert queued.returncode == 0, queued.stderr
    return int(queued.stdout.split("task ")[1].split()[0])


def wait_status(database_url: str, task_id: int, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sql(database_url, "SELECT status FROM tasks_bacnettask WHERE id=%s", task_id) == [
            (status,)
        ]:
            return
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} not {status} within {timeout}s")


def test_sigterm_lets_a_running_task_finish(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    worker = start_worker(start_process, database_url, bacnet_port, BACNET_TIMEOUT="3")
    task_id = queue_slow_discovery(database_url)
    wait_status(database_url, task_id, "running")
    assert worker.stop(signal.SIGTERM, timeout=20) == 0, worker.output()
    assert sql(database_url, "SELECT status FROM tasks_bacnettask WHERE id=%s", task_id) == [
        ("completed",)
    ]


def test_sigterm_hands_back_a_task_that_does_not_finish_in_time(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    worker = start_worker(
        start_process, database_url, bacnet_port, BACNET_TIMEOUT="3", BACNET_SHUTDOWN_SECONDS="0.2"
    )
    task_id = queue_slow_discovery(database_url)
    wait_status(database_url, task_id, "running")
    assert worker.stop(signal.SIGTERM, timeout=20) == 0, worker.output()
    status, attempts, worker_id = sql(
        database_url,
        "SELECT status, attempts, worker_id FROM tasks_bacnettask WHERE id=%s",
        task_id,
    )[0]
    assert (status, attempts, worker_id) == ("pending", 0, "")
    assert f"task {task_id} handed back to pending" in worker.output()
