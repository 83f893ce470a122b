"""Writes the worker's device 8888 refuses are answered with their own BACnet error and
audited as refused, on SQLite and PostgreSQL (issue 11: all but value-out-of-range used to
answer device/operational-problem and leave no audit row; NUL could not be stored at all)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import CharacterString, Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from tests.worker.conftest import manage, sql, start_worker
from tests.worker.test_external_writes import objects_of

pytestmark = pytest.mark.slow

WAIT = 10.0


def string_write_datagram(instance: int) -> bytes:
    """Issue 11's datagram (WriteProperty present-value = "hello", priority 8) to AO `instance`."""
    object_id = ((1 << 22) | instance).to_bytes(4, "big")  # analog-output is type 1
    return (
        bytes.fromhex("810a001d01040005010f0c")
        + object_id
        + bytes.fromhex("19553e75060068656c6c6f3f4908")
    )


async def raw_exchange(port: int, datagram: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.10", port))
        sock.setblocking(False)
        sock.sendto(datagram, ("127.0.0.1", port))
        async with asyncio.timeout(WAIT):
            answer = await loop.sock_recv(sock, 2048)
    return answer[6:]  # the APDU, after the BVLC and a two-octet NPDU


async def refused(app: Application, port: int, ref: str, prop: str, value: Any, **kw: Any) -> str:
    try:
        async with asyncio.timeout(WAIT):
            await app.write_property(Address(f"127.0.0.1:{port}"), ref, prop, value, **kw)
    except ErrorRejectAbortNack as err:
        return f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
    return "acknowledged"


def stored_text(value: Any) -> Any:
    """A JSON column as read: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) and value[:1] in '"[{' else value


def test_each_refusal_answers_its_error_and_is_audited_as_refused(
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
    kind, instance = objects_of(database_url, 1001)["Damper_Position"]
    assert kind == "analog-output"
    ao = f"{kind},{instance}"
    start_worker(start_process, database_url, bacnet_port)

    async def scenario() -> dict[str, str]:
        app = await open_application(
            EngineConfig(address=f"127.0.0.9/8:{bacnet_port}", device_instance=5009)
        )
        try:
            return {
                "unknown": await refused(
                    app, bacnet_port, "analog-output,99999", "present-value", Real(1.0)
                ),
                "string": (await raw_exchange(bacnet_port, string_write_datagram(instance))).hex(),
                "priority": await refused(
                    app, bacnet_port, ao, "present-value", Real(10.0), priority=17
                ),
                "nul": await refused(
                    app, bacnet_port, ao, "description", CharacterString("a\x00b")
                ),
            }
        finally:
            close_application(app)

    answers = asyncio.run(scenario())
    assert answers == {
        "unknown": "object:unknown-object",
        "string": "50010f91029109",  # Error: property / invalid-data-type
        "priority": "services:parameter-out-of-range",
        "nul": "property:value-out-of-range",
    }
    audit = sql(
        database_url,
        "SELECT object_ref, property, new_value, priority, accepted, reason "
        "FROM devices_writeaudit ORDER BY id",
    )
    assert [
        (ref, prop, stored_text(value), priority, bool(ok), reason)
        for ref, prop, value, priority, ok, reason in audit
    ] == [
        ("analog-output,99999", "present-value", "1.0", None, False, "object: unknown-object"),
        (ao, "present-value", "hello", 8, False, "property: invalid-data-type"),
        (
            ao,
            "present-value",
            "10.0",
            None,
            False,
            "services: parameter-out-of-range (priority 17)",
        ),
        (ao, "description", "a\\x00b", None, False, "property: value-out-of-range"),
    ]
