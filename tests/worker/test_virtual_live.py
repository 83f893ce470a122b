"""Virtual objects follow the database while the worker runs, and a dead database refuses writes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from tests.locks import database_locked
from tests.worker.conftest import manage, sql, start_worker

pytestmark = pytest.mark.slow

# The worker syncs its virtual objects with the rows every 2 s (WorkerOptions.
# virtual_sync_interval), and nothing else brings a change to the network without a restart: the
# bound tells "brought by a sync" from "not brought", with room for a loaded machine.
SYNC_BOUND_SECONDS = 15.0


async def with_client(port: int, session: Callable[[Application, Address], Any]) -> Any:
    app = await open_application(
        EngineConfig(address=f"127.0.0.9/8:{port}", device_instance=5009, device_name="external")
    )
    try:
        # Longer than a session's waits on a sync (three of SYNC_BOUND_SECONDS at most), so that
        # those fail with what they waited for.
        return await asyncio.wait_for(session(app, Address(f"127.0.0.1:{port}")), 60)
    finally:
        close_application(app)


async def read_name(app: Application, bms: Address, objid: str) -> str | None:
    try:
        return str(await app.read_property(bms, objid, "object-name"))
    except ErrorRejectAbortNack as exc:
        if "unknown-object" in str(exc):
            return None
        raise


async def name_becomes(app: Application, bms: Address, objid: str, want: str | None) -> float:
    """Seconds until the object's name reads `want` (None: the object is gone)."""
    started = time.monotonic()
    while time.monotonic() - started < SYNC_BOUND_SECONDS:
        if await read_name(app, bms, objid) == want:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"{objid} did not become {want!r} within {SYNC_BOUND_SECONDS}s")


def test_creates_edits_and_deletes_reach_the_network_without_a_restart(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    worker = start_worker(start_process, database_url, bacnet_port)
    created = manage(
        database_url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "3001",
        "--name",
        "Zone",
        "--template",
        "temperature_sensor",
    )
    assert created.returncode == 0, created.stderr
    kind, instance = sql(
        database_url,
        "SELECT object_type, instance FROM virtual_virtualobject WHERE name='Temperature'",
    )[0]
    objid = f"{kind},{instance}"

    async def follow(app: Application, bms: Address) -> None:
        await name_becomes(app, bms, objid, "Virtual_3001_Temperature")
        # An edit in the database (as the web app makes it) renames the live object.
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        sql_write(
            database_url,
            "UPDATE virtual_virtualobject SET name='Room_Temperature', "
            f"updated_at='{now}.999999+00:00' WHERE object_type=%s AND instance=%s",
            kind,
            instance,
        )
        await name_becomes(app, bms, objid, "Virtual_3001_Room_Temperature")
        deleted = manage(database_url, "bacnet_virtual", "delete", "--device-id", "3001")
        assert deleted.returncode == 0, deleted.stderr
        await name_becomes(app, bms, objid, None)

    asyncio.run(with_client(bacnet_port, follow))
    assert worker.popen.poll() is None, "the worker restarted or died"


def sql_write(database_url: str, statement: str, *params: Any) -> None:
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.execute(statement.replace("%s", "?"), params)
        return
    with psycopg.connect(database_url) as db:
        db.execute(statement, params)


def test_a_write_the_database_cannot_store_is_refused_and_nothing_changes(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    created = manage(
        database_url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "3002",
        "--name",
        "AHU",
        "--template",
        "air_handling_unit",
    )
    assert created.returncode == 0, created.stderr
    kind, instance = sql(
        database_url,
        "SELECT object_type, instance FROM virtual_virtualobject WHERE name='Damper_Position'",
    )[0]
    objid = f"{kind},{instance}"
    start_worker(start_process, database_url, bacnet_port)

    async def write(app: Application, bms: Address) -> str:
        try:
            await app.write_property(bms, objid, "present-value", Real(60.0), priority=8)
        except ErrorRejectAbortNack as exc:
            return str(exc)
        return "acknowledged"

    async def present_value(app: Application, bms: Address) -> Any:
        return await app.read_property(bms, objid, "present-value")

    with database_locked(database_url, seconds=5):
        outcome = asyncio.run(with_client(bacnet_port, write))
    assert "operational-problem" in outcome

    time.sleep(1.0)  # the lock is gone: a late commit would show up now
    assert asyncio.run(with_client(bacnet_port, present_value)) == pytest.approx(0.0)
    assert sql(database_url, "SELECT COUNT(*) FROM devices_bacnetreading") == [(0,)]
    assert sql(
        database_url,
        "SELECT present_value FROM virtual_virtualobject WHERE object_type=%s AND instance=%s",
        kind,
        instance,
    ) in ([("0.0",)], [(0.0,)])

    # With the database back, the same write is stored and acknowledged.
    assert asyncio.run(with_client(bacnet_port, write)) == "acknowledged"
    assert sql(database_url, "SELECT COUNT(*) FROM devices_bacnetreading") == [(1,)]


def test_an_operator_command_survives_an_external_write_before_the_next_sync(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    created = manage(
        database_url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "3003",
        "--name",
        "AHU",
        "--template",
        "air_handling_unit",
    )
    assert created.returncode == 0, created.stderr
    object_pk, kind, instance = sql(
        database_url,
        "SELECT id, object_type, instance FROM virtual_virtualobject WHERE name='Damper_Position'",
    )[0]
    objid = f"{kind},{instance}"
    start_worker(start_process, database_url, bacnet_port)

    async def external_write_at_8(app: Application, bms: Address) -> None:
        await app.write_property(bms, objid, "present-value", Real(60.0), priority=8)

    async def levels(app: Application, bms: Address) -> tuple[Any, Any, Any]:
        return (
            await app.read_property(bms, objid, "priority-array", 5),
            await app.read_property(bms, objid, "priority-array", 8),
            await app.read_property(bms, objid, "present-value"),
        )

    async def levels_after_the_sync(app: Application, bms: Address) -> tuple[Any, Any, Any]:
        """The levels once the live object has the operator's level 5 (the worker's next sync
        brings it), or as they are after SYNC_BOUND_SECONDS * 2."""
        deadline = time.monotonic() + SYNC_BOUND_SECONDS * 2
        while True:
            found = await levels(app, bms)
            if found[0].real is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.2)

    # The operator commands level 5; a peer writes level 8 before the worker's next sync.
    commanded = manage(
        database_url,
        "shell",
        "-c",
        (
            "from bms.virtual.models import VirtualObject; "
            "from bms.virtual.commands import command_virtual_object; "
            f"command_virtual_object(VirtualObject.objects.get(id={object_pk}), 40.0, 5, "
            "user='otto')"
        ),
    )
    assert commanded.returncode == 0, commanded.stderr
    asyncio.run(with_client(bacnet_port, external_write_at_8))

    level5, level8, value = asyncio.run(with_client(bacnet_port, levels_after_the_sync))
    assert (level5.real, level8.real, value) == (
        pytest.approx(40.0),
        pytest.approx(60.0),
        pytest.approx(40.0),
    )
    stored = sql(
        database_url,
        "SELECT priority_array, present_value FROM virtual_virtualobject WHERE id=%s",
        object_pk,
    )[0]
    array = json.loads(stored[0]) if isinstance(stored[0], str) else stored[0]
    assert (array[4], array[7]) == (40.0, 60.0)
