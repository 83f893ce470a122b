"""Starting, animating and stopping a building; and the bacpypes3 gap the simulator closes."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import pytest
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import PortInUseError
from bms.bacnet.stack import close_application, ensure_port_free, open_application
from bms.simulator import SimulatedBuilding
from bms.simulator.catalog import device_points
from bms.simulator.objects import ObjectFactory


async def test_stop_frees_every_address(bacnet_port: int) -> None:
    building = SimulatedBuilding(devices=3, objects=5, port=bacnet_port)
    await building.start()
    hosts = [device.host for device in building.devices]
    with pytest.raises(PortInUseError):
        ensure_port_free(hosts[0], bacnet_port)

    await building.stop()

    assert building.devices == []
    for host in [*hosts, "127.255.255.255"]:
        ensure_port_free(host, bacnet_port)


async def test_start_is_all_or_nothing_when_one_address_is_taken(bacnet_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.3", bacnet_port))
        building = SimulatedBuilding(devices=3, objects=5, port=bacnet_port)
        with pytest.raises(PortInUseError, match=r"127\.0\.0\.3"):
            await building.start()

    assert building.devices == []
    for host in ["127.0.0.2", "127.0.0.4", "127.255.255.255"]:
        ensure_port_free(host, bacnet_port)


async def test_change_values_walks_analog_inputs_within_their_bounds(bacnet_port: int) -> None:
    async with SimulatedBuilding(
        devices=2, objects=30, port=bacnet_port, change_interval=3600
    ) as building:
        app = building.devices[0].app
        inputs = [obj for obj in app.objectIdentifier.values() if _is_input(obj)]
        before = [float(obj.presentValue) for obj in inputs]
        for _ in range(50):
            building.change_values()
        after = [float(obj.presentValue) for obj in inputs]

    assert sum(b != a for b, a in zip(before, after, strict=True)) >= len(inputs) - 1
    walks = {spec.name: spec.template.walk for spec in device_points(30)}
    for obj in inputs:
        walk = walks[str(obj.objectName)]
        assert walk is not None
        assert walk.low <= float(obj.presentValue) <= walk.high


async def test_the_same_seed_gives_the_same_values(bacnet_port: int) -> None:
    readings = []
    for _ in range(2):
        async with SimulatedBuilding(
            devices=3, objects=20, port=bacnet_port, seed=7, change_interval=3600
        ) as building:
            building.change_values(limit=25)  # the walk follows the seed too
            app = building.devices[1].app
            readings.append([float(o.presentValue) for o in app.objectIdentifier.values()
                             if _is_input(o)])  # fmt: skip

    assert readings[0] == readings[1]


async def test_serve_raises_when_the_value_task_fails(
    bacnet_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    building = SimulatedBuilding(devices=1, objects=5, port=bacnet_port, change_interval=0.05)

    def broken(limit: int = 0) -> int:
        raise RuntimeError("value task broke")

    monkeypatch.setattr(building, "change_values", broken)
    await building.start()
    try:
        async with asyncio.timeout(5):
            with pytest.raises(RuntimeError, match="value task broke"):
                await building.serve(asyncio.Event())
    finally:
        with pytest.raises(RuntimeError, match="value task broke"):
            await building.stop()
    ensure_port_free("127.0.0.2", bacnet_port)


async def test_stock_bacpypes3_device_ignores_its_own_max_apdu(bacnet_port: int) -> None:
    """Why SimulatedApplication exists: a plain bacpypes3 device that cannot segment and accepts
    480 octets still sends a ~520-octet object list to a client that accepts 1,476.
    If this starts failing, bacpypes3 enforces the limit itself and the subclass can go."""
    factory = ObjectFactory(random.Random(0))
    objects = [factory.build(spec) for spec in device_points(100)]
    device_config = EngineConfig(
        address=f"127.0.0.2/8:{bacnet_port}",
        device_instance=77,
        segmentation="no-segmentation",
        max_apdu=480,
    )
    device: Any = await open_application(device_config, objects=objects)
    client: Any = await open_application(
        EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", device_instance=9999)
    )
    try:
        object_list = await client.read_property(
            Address(f"127.0.0.2:{bacnet_port}"), ObjectIdentifier("device,77"), "object-list"
        )
    finally:
        close_application(client)
        close_application(device)

    assert len(object_list) == 102  # 102 x 5 octets: more than the device's 480


def _is_input(obj: Any) -> bool:
    return str(obj.objectIdentifier[0]) == "analog-input"
