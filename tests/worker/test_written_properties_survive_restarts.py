"""Every property a peer may write to device 8888's objects is stored before its ack, so it
reads back the same after the worker stops, cleanly (SIGTERM) or not (kill -9), on SQLite and
PostgreSQL (issue 11: description, cov-increment and relinquish-default were acknowledged and
then lost on any restart)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from bacpypes3.basetypes import BinaryPV
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Boolean, CharacterString, Null, Real, Unsigned

from bms.bacnet.local import LOCAL_CLASSES
from bms.bacnet.local.objects import property_attr
from bms.bacnet.stack import close_application
from bms.bacnet.values import to_python
from tests.worker.conftest import Process, manage, start_worker
from tests.worker.test_external_writes import external_client, objects_of

pytestmark = pytest.mark.slow

# (object name in the air_handling_unit template, property, value, priority), written in order.
Write = tuple[str, str, Any, int | None]

ROUND_ONE: list[Write] = [
    ("Damper_Position", "relinquish-default", Real(33.0), None),
    ("Damper_Position", "description", CharacterString("damper, round one"), None),
    ("Damper_Position", "cov-increment", Real(2.5), None),
    ("Damper_Position", "present-value", Real(40.0), 8),
    ("Damper_Position", "out-of-service", Boolean(True), None),
    ("Supply_Air_Temperature", "out-of-service", Boolean(True), None),
    ("Supply_Air_Temperature", "present-value", Real(15.5), None),
    ("Supply_Air_Temperature", "description", CharacterString("supply, round one"), None),
    ("Supply_Air_Temperature", "cov-increment", Real(0.5), None),
    ("Enable", "relinquish-default", BinaryPV("active"), None),
    ("Enable", "present-value", BinaryPV("inactive"), 9),
    ("Enable", "description", CharacterString("enable, round one"), None),
    ("Enable", "out-of-service", Boolean(True), None),
    ("Mode", "relinquish-default", Unsigned(3), None),
    ("Mode", "present-value", Unsigned(2), 10),
    ("Mode", "description", CharacterString("mode, round one"), None),
    ("Mode", "out-of-service", Boolean(True), None),
]

# Every value changes again; the commanded levels are relinquished, so the relinquish
# defaults written here are what present-value must read back.
ROUND_TWO: list[Write] = [
    ("Damper_Position", "relinquish-default", Real(44.0), None),
    ("Damper_Position", "description", CharacterString("damper, round two"), None),
    ("Damper_Position", "cov-increment", Real(3.5), None),
    ("Damper_Position", "present-value", Null(()), 8),
    ("Damper_Position", "out-of-service", Boolean(False), None),
    ("Supply_Air_Temperature", "present-value", Real(16.25), None),
    ("Supply_Air_Temperature", "description", CharacterString("supply, round two"), None),
    ("Supply_Air_Temperature", "cov-increment", Real(0.75), None),
    ("Supply_Air_Temperature", "out-of-service", Boolean(False), None),
    ("Enable", "relinquish-default", BinaryPV("inactive"), None),
    ("Enable", "present-value", Null(()), 9),
    ("Enable", "description", CharacterString("enable, round two"), None),
    ("Enable", "out-of-service", Boolean(False), None),
    ("Mode", "relinquish-default", Unsigned(4), None),
    ("Mode", "present-value", Null(()), 10),
    ("Mode", "description", CharacterString("mode, round two"), None),
    ("Mode", "out-of-service", Boolean(False), None),
]

# What each object reads back after its round (present-value follows its priority array).
EXPECTED_ONE = {
    "Damper_Position": {
        "relinquish-default": 33.0,
        "description": "damper, round one",
        "cov-increment": 2.5,
        "present-value": 40.0,
        "out-of-service": True,
    },
    "Supply_Air_Temperature": {
        "out-of-service": True,
        "present-value": 15.5,
        "description": "supply, round one",
        "cov-increment": 0.5,
    },
    "Enable": {
        "relinquish-default": "active",
        "present-value": "inactive",
        "description": "enable, round one",
        "out-of-service": True,
    },
    "Mode": {
        "relinquish-default": 3,
        "present-value": 2,
        "description": "mode, round one",
        "out-of-service": True,
    },
}
EXPECTED_TWO = {
    "Damper_Position": {
        "relinquish-default": 44.0,
        "description": "damper, round two",
        "cov-increment": 3.5,
        "present-value": 44.0,
        "out-of-service": False,
    },
    "Supply_Air_Temperature": {
        "out-of-service": False,
        "present-value": 16.25,
        "description": "supply, round two",
        "cov-increment": 0.75,
    },
    "Enable": {
        "relinquish-default": "inactive",
        "present-value": "inactive",
        "description": "enable, round two",
        "out-of-service": False,
    },
    "Mode": {
        "relinquish-default": 4,
        "present-value": 4,
        "description": "mode, round two",
        "out-of-service": False,
    },
}


def test_the_rounds_write_every_property_a_peer_may_write() -> None:
    """The kill -9 round covers each object's writable properties, and the objects cover every
    writable property of every kind: a property made writable later fails here until it is
    written (and so stored) by the rounds below."""
    kinds = {
        "Damper_Position": "analog-output",
        "Supply_Air_Temperature": "analog-input",
        "Enable": "binary-value",
        "Mode": "multi-state-value",
    }
    for name, kind in kinds.items():
        writable = LOCAL_CLASSES[kind].writable_properties()
        assert {property_attr(p) for n, p, *_ in ROUND_TWO if n == name} == writable, name
        assert {property_attr(p) for p in EXPECTED_TWO[name]} == writable, name
    every_writable = set().union(*(cls.writable_properties() for cls in LOCAL_CLASSES.values()))
    assert {property_attr(p) for _n, p, *_ in ROUND_TWO} == every_writable


async def _write(port: int, refs: dict[str, str], writes: list[Write]) -> None:
    app = await external_client(port)
    try:
        bms = Address(f"127.0.0.1:{port}")
        for name, prop, value, priority in writes:
            # Acknowledged, or this raises: only acked writes are checked after the restart.
            await app.write_property(bms, refs[name], prop, value, priority=priority)
    finally:
        close_application(app)


async def _read_all(port: int, refs: dict[str, str], expected: dict[str, Any]) -> dict[str, Any]:
    app = await external_client(port)
    try:
        bms = Address(f"127.0.0.1:{port}")
        return {
            name: {
                prop: to_python(await app.read_property(bms, refs[name], prop)) for prop in props
            }
            for name, props in expected.items()
        }
    finally:
        close_application(app)


def _approx(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {p: pytest.approx(v) if isinstance(v, float) else v for p, v in props.items()}
        for name, props in values.items()
    }


def test_every_written_property_reads_back_after_sigterm_and_after_kill_9(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    created = manage(
        database_url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "AHU",
        "--template",
        "air_handling_unit",
    )
    assert created.returncode == 0, created.stderr
    refs = {
        name: f"{kind},{instance}"
        for name, (kind, instance) in objects_of(database_url, 1001).items()
    }

    worker: Process = start_worker(start_process, database_url, bacnet_port)
    for writes, expected, stop_signal in (
        (ROUND_ONE, EXPECTED_ONE, signal.SIGTERM),
        (ROUND_TWO, EXPECTED_TWO, signal.SIGKILL),
    ):
        asyncio.run(asyncio.wait_for(_write(bacnet_port, refs, writes), 30))
        # Read before the restart too: the writes took effect in the running device.
        live = asyncio.run(asyncio.wait_for(_read_all(bacnet_port, refs, expected), 30))
        assert live == _approx(expected)
        worker.stop(stop_signal)
        worker = start_worker(start_process, database_url, bacnet_port)
        after = asyncio.run(asyncio.wait_for(_read_all(bacnet_port, refs, expected), 30))
        assert after == _approx(expected), signal.Signals(stop_signal).name
