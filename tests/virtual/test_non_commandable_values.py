"""A profile's value object with commandable=False is served without a priority array.

BACnet lets a device choose whether a value object (AV, BV, MSV) is commandable; a profile says
so with `commandable`. Set-up as tests/profiles/test_virtual_copy_live.py: a real Engine serving
device 8888 through the worker's VirtualSync (127.0.0.44) and a plain bacpypes3 client
(127.0.0.45) on a fresh loopback port.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier, Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from bms.profiles import services as profiles
from bms.profiles.definitions import ObjectDefinition
from bms.virtual.commands import CommandRefused, command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.profiles import profile_from_virtual_device
from bms.virtual.services import create_virtual_device
from bms.virtual.specs import spec_for
from bms.worker.virtual_sync import VirtualSync

VIRTUAL_ID = 3744
WAIT = 10.0
OBJECTS = [
    ObjectDefinition("analog-value", "Fixed", units="percent", default=5.0, commandable=False),
    ObjectDefinition("analog-value", "Setpoint", units="percent", default=5.0),
    ObjectDefinition("binary-value", "Flag", commandable=False),
    ObjectDefinition("analog-output", "Valve", units="percent", commandable=False),
]


def build_device() -> dict[str, VirtualObject]:
    profiles.create_profile("non_commandable", "", OBJECTS)
    device = create_virtual_device(VIRTUAL_ID, "Plant", template="non_commandable")
    return {row.name: row for row in device.virtual_objects.select_related("device")}


@pytest.mark.django_db
def test_a_value_the_profile_made_non_commandable_is_stored_and_copied_without_an_array() -> None:
    rows = build_device()
    assert (rows["Fixed"].priority_array, rows["Fixed"].relinquish_default) == (None, None)
    assert not rows["Fixed"].commandable
    assert not spec_for(rows["Fixed"]).commandable
    assert rows["Fixed"].present_value == 5.0
    assert not rows["Flag"].commandable
    assert rows["Setpoint"].commandable  # no word from the profile: as its type
    assert rows["Valve"].commandable  # an output always is, whatever the profile says
    copy = profile_from_virtual_device(rows["Fixed"].device, "copied")
    kept = {d.name: d.commandable for d in profiles.definitions(copy)}
    assert kept == {"Fixed": False, "Setpoint": True, "Flag": False, "Valve": True}


@pytest.mark.django_db
def test_an_operator_sets_a_non_commandable_value_without_a_priority() -> None:
    fixed = build_device()["Fixed"]
    with pytest.raises(CommandRefused, match="not commandable"):
        command_virtual_object(fixed, 7.0, priority=8, user="op")
    row = command_virtual_object(fixed, 7.0, user="op")
    assert (row.present_value, row.priority_array) == (7.0, None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
async def test_a_client_reads_a_non_commandable_value_without_a_priority_array(
    bacnet_port: int,
) -> None:
    rows = await sync_to_async(build_device)()
    config = EngineConfig(address=f"127.0.0.44/8:{bacnet_port}", time_zone="UTC")
    async with Engine(config) as engine:
        await VirtualSync(engine.device).sync_once()
        app: Any = await open_application(
            EngineConfig(
                address=f"127.0.0.45/8:{bacnet_port}", device_instance=9045, device_name="outside"
            )
        )
        try:
            bms = Address(f"127.0.0.44:{bacnet_port}")
            fixed = ObjectIdentifier(("analog-value", rows["Fixed"].instance))
            setpoint = ObjectIdentifier(("analog-value", rows["Setpoint"].instance))
            async with asyncio.timeout(WAIT):
                missing = [
                    await _read(app, bms, fixed, "priority-array"),
                    await _read(app, bms, fixed, "relinquish-default"),
                ]
                commandable_array = await _read(app, bms, setpoint, "priority-array")
                # BACnet: the priority of a write to a non-commandable property is ignored.
                await app.write_property(bms, fixed, "present-value", Real(42.0), None, 8)
                written = await _read(app, bms, fixed, "present-value")
        finally:
            close_application(app)
    assert [str(error.errorCode) for error in missing] == ["unknown-property"] * 2
    assert len(to_python(commandable_array)) == 16
    assert to_python(written) == 42.0


async def _read(app: Any, address: Address, oid: ObjectIdentifier, prop: str) -> Any:
    """The value, or the error the device answered with (bacpypes3 returns most, raises some)."""
    try:
        return await app.read_property(address, oid, prop)
    except ErrorRejectAbortNack as error:
        return error
