"""Seed 004's external-client test: a separate bacpypes3 client against the worker's device 8888."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from tests.worker.conftest import manage, sql, start_worker

pytestmark = pytest.mark.slow


async def external_client(port: int) -> Application:
    return await open_application(
        EngineConfig(address=f"127.0.0.9/8:{port}", device_instance=5009, device_name="external")
    )


def objects_of(database_url: str, device_id: int) -> dict[str, tuple[str, int]]:
    rows = sql(
        database_url,
        "SELECT o.name, o.object_type, o.instance FROM "
        "virtual_virtualobject o JOIN virtual_virtualbacnetdevice d "
        "ON o.device_id=d.id WHERE d.device_id=%s",
        device_id,
    )
    return {name: (kind, instance) for name, kind, instance in rows}


def wait_for_external_write_message(database_url: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(
            database_url,
            "SELECT payload FROM realtime_realtimemessage WHERE "
            "\"group\" = 'virtual_devices' ORDER BY id",
        )
        for (payload,) in rows:
            payload = json.loads(payload) if isinstance(payload, str) else payload
            if payload.get("type") == "external_writes_notification":  # a batch of writes
                return dict(payload["writes"][0])
        time.sleep(0.1)
    raise AssertionError("no external_writes_notification published")


def test_external_client_discovers_reads_and_writes_and_the_write_is_stored(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    # Seed 004 writes 75.0 to "the AO"; its hvac setpoint stops at 28, so the AHU's damper (%).
    for device_id, template in ((1001, "air_handling_unit"), (1002, "temperature_sensor")):
        created = manage(
            database_url,
            "bacnet_virtual",
            "create",
            "--device-id",
            str(device_id),
            "--name",
            f"Test {template}",
            "--template",
            template,
        )
        assert created.returncode == 0, created.stderr
    setpoint = objects_of(database_url, 1001)["Damper_Position"]
    temperature = objects_of(database_url, 1002)["Temperature"]
    worker = start_worker(start_process, database_url, bacnet_port)

    async def scenario() -> dict[str, Any]:
        app = await external_client(bacnet_port)
        try:
            i_ams = await app.who_is(8888, 8888)  # local broadcast: 127.255.255.255
            bms = Address(f"127.0.0.1:{bacnet_port}")
            name = await app.read_property(bms, f"{temperature[0]},{temperature[1]}", "object-name")
            ai_value = await app.read_property(
                bms, f"{temperature[0]},{temperature[1]}", "present-value"
            )
            await app.write_property(
                bms, f"{setpoint[0]},{setpoint[1]}", "present-value", Real(75.0), priority=8
            )
            refused = None
            try:
                await app.write_property(
                    bms, f"{setpoint[0]},{setpoint[1]}", "present-value", Real(500.0), priority=8
                )
            except ErrorRejectAbortNack as exc:
                refused = exc
            return {"i_ams": i_ams, "name": name, "ai": ai_value, "refused": refused}
        finally:
            close_application(app)

    seen = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [i_am.iAmDeviceIdentifier[1] for i_am in seen["i_ams"]] == [8888]
    assert seen["name"] == "Virtual_1002_Temperature"
    assert seen["ai"] == pytest.approx(22.0)
    assert seen["refused"] is not None
    assert "value-out-of-range" in str(seen["refused"])

    stored = sql(
        database_url,
        "SELECT r.value, r.source FROM devices_bacnetreading r JOIN "
        "virtual_virtualobject o ON r.virtual_object_id=o.id WHERE o.instance=%s AND "
        "o.object_type=%s",
        setpoint[1],
        setpoint[0],
    )
    assert [(float(value), source) for value, source in stored] == [(75.0, "external_bacnet_write")]
    audit = sql(
        database_url, "SELECT who, priority, accepted, reason FROM devices_writeaudit ORDER BY id"
    )
    assert [(who, priority, bool(ok), reason) for who, priority, ok, reason in audit] == [
        (f"127.0.0.9:{bacnet_port}", 8, True, ""),
        (f"127.0.0.9:{bacnet_port}", 8, False, "property: value-out-of-range"),
    ]

    # The live update (published after the ack, with no query for the object) carries the
    # write and the object as stored.
    message = wait_for_external_write_message(database_url)
    assert (message["new_value"], message["priority"], message["effective_value"]) == (
        75.0,
        8,
        75.0,
    )
    assert message["address"] == f"127.0.0.9:{bacnet_port}"
    assert message["priority_array"][7] == 75.0
    assert (
        message["object"]["present_value"],
        message["object"]["priority_array"][7],
        message["object"]["instance"],
    ) == (75.0, 75.0, setpoint[1])

    # The commanded value and its priority array survive a restart of the worker.
    assert worker.stop() == 0
    start_worker(start_process, database_url, bacnet_port)

    async def read_back() -> tuple[Any, Any]:
        app = await external_client(bacnet_port)
        try:
            bms = Address(f"127.0.0.1:{bacnet_port}")
            objid = f"{setpoint[0]},{setpoint[1]}"
            value = await app.read_property(bms, objid, "present-value")
            slot = await app.read_property(bms, objid, "priority-array", 8)
            return value, slot
        finally:
            close_application(app)

    value, slot = asyncio.run(asyncio.wait_for(read_back(), 20))
    assert value == pytest.approx(75.0)
    assert slot.real == pytest.approx(75.0)  # PriorityValue choice: real


def plain(stored: Any) -> Any:
    """A JSON column as Python (SQLite returns its text, PostgreSQL the decoded value)."""
    return json.loads(stored) if isinstance(stored, str) else stored


def test_a_burst_of_writes_to_one_object_is_acked_and_stored_in_order(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    created = manage(
        database_url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "Test AHU",
        "--template",
        "air_handling_unit",
    )
    assert created.returncode == 0, created.stderr
    kind, instance = objects_of(database_url, 1001)["Damper_Position"]
    start_worker(start_process, database_url, bacnet_port)
    writes = [(float(n), 8 + n % 3) for n in range(1, 61)]

    async def burst() -> tuple[list[Any], list[Any]]:
        app = await external_client(bacnet_port)
        try:
            bms = Address(f"127.0.0.1:{bacnet_port}")
            results = await asyncio.gather(
                *(
                    app.write_property(
                        bms, f"{kind},{instance}", "present-value", Real(value), priority=priority
                    )
                    for value, priority in writes
                ),
                return_exceptions=True,
            )
            array = await app.read_property(bms, f"{kind},{instance}", "priority-array")
            return results, array
        finally:
            close_application(app)

    results, live_array = asyncio.run(asyncio.wait_for(burst(), 60))
    assert [r for r in results if r is not None] == []  # every write acknowledged

    audits = sql(
        database_url,
        "SELECT a.old_value, a.new_value, a.priority, a.accepted FROM "
        "devices_writeaudit a JOIN virtual_virtualobject o ON a.virtual_object_id=o.id "
        "WHERE o.instance=%s AND o.object_type=%s ORDER BY a.id",
        instance,
        kind,
    )
    readings = sql(
        database_url,
        "SELECT r.value FROM devices_bacnetreading r JOIN "
        "virtual_virtualobject o ON r.virtual_object_id=o.id WHERE o.instance=%s "
        "AND o.object_type=%s ORDER BY r.id",
        instance,
        kind,
    )
    assert sorted((float(new), priority) for _old, new, priority, _ok in audits) == sorted(writes)
    assert all(ok for *_rest, ok in audits)
    # Stored in the order they were applied: each on the state the one before it left.
    (row,) = sql(
        database_url,
        "SELECT present_value, priority_array, relinquish_default FROM "
        "virtual_virtualobject WHERE instance=%s AND object_type=%s",
        instance,
        kind,
    )
    array: list[float | None] = [None] * 16
    effective = plain(row[2])
    for (old, new, priority, _ok), (reading,) in zip(audits, readings, strict=True):
        assert plain(old) == effective
        array[priority - 1] = plain(new)
        effective = next(v for v in array if v is not None)
        assert plain(reading) == effective
    assert plain(row[1]) == array
    assert plain(row[0]) == effective
    assert [to_python(entry) for entry in live_array] == array
