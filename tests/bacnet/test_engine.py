"""One Engine is client and device at once, on one address and port."""

from __future__ import annotations

import asyncio

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec
from bms.bacnet.engine import Engine
from bms.bacnet.errors import PortInUseError, WriteRefused
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef, WriteEvent
from bms.simulator.building import SimulatedBuilding

SETPOINT = ObjectSpec(
    "AO",
    1,
    "Virtual_1001_Setpoint",
    units="degrees-celsius",
    present_value=21.0,
    min_value=10.0,
    max_value=30.0,
)
TEMPERATURE = ObjectSpec(
    "AI", 1, "Virtual_1001_Temperature", units="degrees-celsius", present_value=22.5
)


async def test_engine_reads_the_building_while_serving_an_external_client(
    bacnet_port: int,
) -> None:
    writes: list[WriteEvent] = []

    async def store(events: list[WriteEvent]) -> None:
        writes.extend(events)

    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0)
    async with (
        SimulatedBuilding(devices=3, objects=30, port=bacnet_port) as building,
        Engine(config, write_batch_hook=store) as engine,
    ):
        engine.device.add_object(SETPOINT)
        engine.device.add_object(TEMPERATURE)
        external = await open_application(
            EngineConfig(address=f"127.0.0.200/8:{bacnet_port}", device_instance=7000)
        )
        try:
            bms = Address(f"127.0.0.1:{bacnet_port}")

            async def external_session() -> list[object]:
                seen: list[object] = []
                for step in range(10):
                    seen.append(
                        await external.read_property(bms, "analog-input,1", "present-value")
                    )
                    await external.write_property(
                        bms, "analog-output,1", "present-value", Real(20.0 + step), priority=8
                    )
                return seen

            async def read_building() -> list[int]:
                found = await engine.client.who_is(low=1000, high=1002, expected=3)
                counts = []
                for record in sorted(found, key=lambda r: r.device_instance):
                    points = await engine.client.read_points(record.address, record.device_instance)
                    counts.append(len(points))
                return counts

            seen, counts = await asyncio.wait_for(
                asyncio.gather(external_session(), read_building()), 60
            )
        finally:
            close_application(external)

        assert seen == [pytest.approx(22.5)] * 10
        assert counts == [len(device.objects) for device in building.devices]
        assert [event.new_value for event in writes] == [20.0 + step for step in range(10)]
        assert engine.device.snapshot(ObjectRef("analog-output", 1)).present_value == 29.0


async def test_a_refusing_write_hook_leaves_the_value_and_the_writer_gets_an_error(
    bacnet_port: int,
) -> None:
    async def refuse(events: list[WriteEvent]) -> None:
        raise WriteRefused(
            "database is down", error_class="device", error_code="operational-problem"
        )

    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}")
    async with Engine(config, write_batch_hook=refuse) as engine:
        engine.device.add_object(SETPOINT)
        external = await open_application(
            EngineConfig(address=f"127.0.0.200/8:{bacnet_port}", device_instance=7000)
        )
        try:
            with pytest.raises(ErrorRejectAbortNack, match="operational-problem"):
                await asyncio.wait_for(
                    external.write_property(
                        Address(f"127.0.0.1:{bacnet_port}"),
                        "analog-output,1",
                        "present-value",
                        Real(25.0),
                        priority=8,
                    ),
                    10,
                )
        finally:
            close_application(external)
        assert engine.device.snapshot(ObjectRef("analog-output", 1)).present_value == 21.0


async def test_a_second_engine_on_a_taken_address_refuses_to_start(bacnet_port: int) -> None:
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}")
    async with Engine(config):
        with pytest.raises(PortInUseError, match="already in use"):
            await Engine(config).start()
