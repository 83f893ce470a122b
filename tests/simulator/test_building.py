"""A simulated building seen from a plain bacpypes3 client over real UDP on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bacpypes3.apdu import AbortPDU, ErrorRejectAbortNack, RejectPDU
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier, Real

from bms.simulator import SimulatedBuilding, SimulatedDevice
from tests.simulator.conftest import CHANGE_INTERVAL, DEVICES, OBJECTS

WHO_IS_SECONDS = 1


def device_id(device: SimulatedDevice) -> ObjectIdentifier:
    return ObjectIdentifier(("device", device.instance))


async def read(client: Any, device: SimulatedDevice, obj: Any, prop: str, **kwargs: Any) -> Any:
    return await client.read_property(Address(device.address), obj, prop, **kwargs)


async def test_who_is_finds_exactly_the_buildings_devices(
    building: SimulatedBuilding, client: Any
) -> None:
    answers = await client.who_is(timeout=WHO_IS_SECONDS)

    found = sorted(answer.iAmDeviceIdentifier[1] for answer in answers)
    assert found == [device.instance for device in building.devices]
    assert len(found) == DEVICES


async def test_who_is_with_a_range_finds_only_that_range(
    building: SimulatedBuilding, client: Any
) -> None:
    first = building.devices[1].instance
    answers = await client.who_is(first, first + 1, timeout=WHO_IS_SECONDS)

    assert sorted(answer.iAmDeviceIdentifier[1] for answer in answers) == [first, first + 1]


async def test_devices_sit_on_consecutive_loopback_hosts(building: SimulatedBuilding) -> None:
    hosts = [device.host for device in building.devices]

    assert hosts == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    assert [device.instance for device in building.devices] == [1000, 1001, 1002, 1003]


async def test_normal_device_returns_its_object_list_in_one_read(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[0]

    object_list = await read(client, device, device_id(device), "object-list")

    refs = {(str(obj[0]), obj[1]) for obj in object_list}
    # the points, the device, its network port, its schedule and calendar, and its trend log
    assert len(object_list) == OBJECTS + 5
    assert {(ref.object_type, ref.instance) for ref in device.objects} <= refs


async def test_no_segmentation_device_aborts_a_whole_object_list_read(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[1]
    assert device.segmentation == "no-segmentation"
    assert device.max_apdu == 480

    with pytest.raises(AbortPDU) as aborted:
        await read(client, device, device_id(device), "object-list")

    assert str(aborted.value.apduAbortRejectReason) == "segmentation-not-supported"


async def test_no_segmentation_device_answers_index_by_index(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[1]

    length = await read(client, device, device_id(device), "object-list", array_index=0)
    first = await read(client, device, device_id(device), "object-list", array_index=1)
    last = await read(client, device, device_id(device), "object-list", array_index=length)

    # with the device, its network port, a schedule, a calendar and a trend log
    assert length == OBJECTS + 5
    assert first == device_id(device)
    assert (str(last[0]), last[1]) == ("trend-log", 1)  # served after the points


async def test_no_rpm_device_rejects_rpm_but_answers_read_property(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[2]
    assert not device.supports_rpm

    with pytest.raises(RejectPDU) as rejected:
        await client.read_property_multiple(
            Address(device.address), [device_id(device), ["object-name"]]
        )
    name = await read(client, device, device_id(device), "object-name")
    services = await read(client, device, device_id(device), "protocol-services-supported")

    assert str(rejected.value.apduAbortRejectReason) == "unrecognized-service"
    assert name == device.name
    assert services["read-property-multiple"] == 0
    assert services["read-property"] == 1


async def test_other_devices_support_rpm(building: SimulatedBuilding, client: Any) -> None:
    device = building.devices[0]

    result = await client.read_property_multiple(
        Address(device.address), [device_id(device), ["object-name", "segmentation-supported"]]
    )
    services = await read(client, device, device_id(device), "protocol-services-supported")

    assert [str(row[3]) for row in result] == [device.name, "segmented-both"]
    assert services["read-property-multiple"] == 1


async def test_analog_input_present_value_changes_over_time(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[0]
    zone_temperature = ObjectIdentifier("analog-input,5")
    first = await read(client, device, zone_temperature, "present-value")

    seen = {first}
    for _ in range(20):  # ~4 s at most; it usually moves on the next tick
        await asyncio.sleep(CHANGE_INTERVAL)
        seen.add(await read(client, device, zone_temperature, "present-value"))
        if len(seen) > 1:
            break

    assert len(seen) > 1
    assert all(18.0 <= value <= 26.0 for value in seen)


async def test_writing_a_commandable_ao_at_priority_8_commands_it(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[0]
    damper = ObjectIdentifier("analog-output,1")

    await client.write_property(
        Address(device.address), damper, "present-value", Real(55.0), priority=8
    )
    value = await read(client, device, damper, "present-value")
    slots = await read(client, device, damper, "priority-array")
    other = await read(client, building.devices[3], damper, "present-value")

    assert value == 55.0
    assert slots[7].real == 55.0
    assert other == 40.0  # the same object on another device is untouched


async def test_points_have_realistic_names_and_units(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[0]

    name = await read(client, device, ObjectIdentifier("analog-input,5"), "object-name")
    units = await read(client, device, ObjectIdentifier("analog-input,5"), "units")
    states = await read(client, device, ObjectIdentifier("multi-state-value,1"), "state-text")

    assert name == "Zone 1 Temperature"
    assert str(units) == "degrees-celsius"
    assert list(states) == ["Occupied", "Unoccupied", "Standby"]


async def test_a_read_error_is_a_bacnet_error(building: SimulatedBuilding, client: Any) -> None:
    device = building.devices[0]

    with pytest.raises(ErrorRejectAbortNack):
        await read(client, device, ObjectIdentifier("analog-input,9999"), "present-value")


async def test_a_cov_subscriber_hears_an_analog_input_move(
    building: SimulatedBuilding, client: Any
) -> None:
    device = building.devices[0]
    zone_temperature = ObjectIdentifier("analog-input,5")
    values: list[float] = []

    subscription = client.change_of_value(Address(device.address), zone_temperature, 7, False, 60)
    async with subscription as notifications, asyncio.timeout(5):
        while len(values) < 2:  # the first notification is the value at subscription time
            prop, value = await notifications.get_value()
            if str(prop) == "present-value":
                values.append(value)

    assert values[0] != values[1]
