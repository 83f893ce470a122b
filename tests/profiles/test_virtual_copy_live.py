"""A profile made from a simulated device builds a virtual device that an outside BACnet client
reads with the device's names and units.

One set-up, on loopback: a simulated building of one device (127.0.0.2), a real Engine (our
client and device 8888, 127.0.0.30) that reads the device's points as the worker's read-points
job does and serves the virtual objects through the worker's VirtualSync, and a plain bacpypes3
client (127.0.0.31) that reads them back. Virtual objects are named Virtual_<device id>_<name>
on BACnet (bms.bacnet.local.virtual_object_name): the point's name follows that prefix.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.local import virtual_object_name
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import POINT_TYPES, PointInfo
from bms.bacnet.values import to_python
from bms.devices.models import BACnetDevice
from bms.profiles import services
from bms.simulator import SimulatedBuilding
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device
from bms.worker.store.readings import save_points
from bms.worker.virtual_sync import VirtualSync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
VIRTUAL_ID = 3700
WAIT = 10.0


def make_copy(instance: int, address: str, points: list[PointInfo]) -> list[tuple[str, int, str]]:
    """Store the device as discovery and read-points would, make a profile of it and a virtual
    device from the profile; returns each virtual object's (type, instance, plain name)."""
    device = BACnetDevice.objects.create(device_instance=instance, address=address, name="Sim")
    save_points(device, points)
    services.profile_from_device(device, "simulated_copy")
    create_virtual_device(VIRTUAL_ID, "Copy", template="simulated_copy")
    rows = VirtualObject.objects.filter(device__device_id=VIRTUAL_ID)
    return [(row.object_type, row.instance, row.name) for row in rows]


async def test_a_virtual_copy_of_a_simulated_device_reads_back_its_names_and_units(
    bacnet_port: int,
) -> None:
    async with SimulatedBuilding(
        devices=1, objects=12, port=bacnet_port, change_interval=60.0
    ) as building:
        simulated = building.devices[0]
        config = EngineConfig(address=f"127.0.0.30/8:{bacnet_port}", time_zone="UTC")
        async with Engine(config) as engine:
            points = await engine.client.read_points(simulated.address, simulated.instance)
            assert {p.ref.object_type for p in points} <= POINT_TYPES
            copies = await sync_to_async(make_copy)(simulated.instance, simulated.address, points)
            assert len(copies) == len(points)
            await VirtualSync(engine.device).sync_once()
            read = await read_names_and_units(bacnet_port, copies)

    units_of = {p.name: p.units for p in points}
    assert read == [
        (virtual_object_name(VIRTUAL_ID, name), units_of[name]) for _, _, name in copies
    ]
    assert {p.name for p in points} == {name for _, _, name in copies}
    assert any(units for _, units in read)  # analog points with their units among them


async def read_names_and_units(
    port: int, objects: list[tuple[str, int, str]]
) -> list[tuple[str, str | None]]:
    app: Any = await open_application(
        EngineConfig(address=f"127.0.0.31/8:{port}", device_instance=9031, device_name="outside")
    )
    bms = Address(f"127.0.0.30:{port}")
    try:
        out = []
        for object_type, instance, _ in objects:
            oid = ObjectIdentifier((object_type, instance))
            async with asyncio.timeout(WAIT):
                name = to_python(await app.read_property(bms, oid, "object-name"))
                units = None
                if object_type.startswith("analog"):
                    units = to_python(await app.read_property(bms, oid, "units"))
            out.append((name, units))
        return out
    finally:
        close_application(app)
