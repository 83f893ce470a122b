"""Silenced, restored, restarted and flaky devices, seen by a real bacpypes3 client over UDP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.types import ObjectRef
from bms.simulator import SimulatedBuilding
from bms.simulator.faults import FlakySchedule

SILENT_WAIT = 0.8  # far above a loopback answer (~2 ms)
NOTIFICATION_WAIT = 2.0
POINT = ObjectRef("analog-value", 1)


@pytest.fixture
async def quiet_building(bacnet_port: int) -> AsyncIterator[SimulatedBuilding]:
    # Values move only when a test sets them, so every notification is the test's own.
    async with SimulatedBuilding(
        devices=3, objects=20, port=bacnet_port, change_interval=3600
    ) as started:
        yield started


async def read_name(client: Any, building: SimulatedBuilding, index: int) -> str:
    device = building.devices[index]
    value = await asyncio.wait_for(
        client.read_property(
            Address(device.address), ObjectIdentifier(("device", device.instance)), "object-name"
        ),
        SILENT_WAIT,
    )
    return str(value)


async def test_a_silenced_device_answers_nothing_until_restored(
    quiet_building: SimulatedBuilding, client: Any
) -> None:
    silent = quiet_building.devices[1]
    quiet_building.silence(silent.instance)

    with pytest.raises(TimeoutError):
        await read_name(client, quiet_building, 1)
    answers = await client.who_is(timeout=SILENT_WAIT)
    assert await read_name(client, quiet_building, 0) == quiet_building.devices[0].name
    assert sorted(a.iAmDeviceIdentifier[1] for a in answers) == [
        quiet_building.devices[0].instance,
        quiet_building.devices[2].instance,
    ]
    assert quiet_building.switch(silent.instance).dropped_received >= 2

    quiet_building.restore(silent.instance)

    assert await read_name(client, quiet_building, 1) == silent.name


async def subscribe(client: Any, building: SimulatedBuilding, index: int) -> Any:
    device = building.devices[index]
    return client.change_of_value(
        Address(device.address),
        ObjectIdentifier((POINT.object_type, POINT.instance)),
        issue_confirmed_notifications=False,
        lifetime=60,
    )


async def next_value(subscription: Any) -> float:
    async with asyncio.timeout(NOTIFICATION_WAIT):
        while True:
            prop, value = await subscription.get_value()
            if str(prop) == "present-value":
                return float(value)


async def test_set_value_notifies_subscribers_and_silence_drops_notifications(
    quiet_building: SimulatedBuilding, client: Any
) -> None:
    device = quiet_building.devices[0]
    async with await subscribe(client, quiet_building, 0) as subscription:
        await next_value(subscription)  # the initial notification of a new subscription
        quiet_building.set_value(device.instance, POINT, 31.5)
        assert await next_value(subscription) == 31.5

        quiet_building.silence(device.instance)
        quiet_building.set_value(device.instance, POINT, 32.5)
        with pytest.raises(TimeoutError):
            await next_value(subscription)
        assert quiet_building.switch(device.instance).dropped_sent >= 1
        quiet_building.restore(device.instance)

        quiet_building.set_value(device.instance, POINT, 33.5)
        assert await next_value(subscription) == 33.5  # the cable is back, the subscription too


async def test_a_restart_forgets_subscriptions_and_announces_itself(
    quiet_building: SimulatedBuilding, client: Any
) -> None:
    device = quiet_building.devices[2]
    announced: list[int] = []
    original = client.do_IAmRequest

    async def record_i_am(apdu: Any) -> None:
        announced.append(apdu.iAmDeviceIdentifier[1])
        await original(apdu)

    client.do_IAmRequest = record_i_am
    async with await subscribe(client, quiet_building, 2) as subscription:
        await next_value(subscription)
        assert quiet_building.switch(device.instance).subscriptions() == 1

        dropped = await quiet_building.restart(device.instance, seconds=0.2)

        assert dropped == 1
        assert quiet_building.switch(device.instance).subscriptions() == 0
        quiet_building.set_value(device.instance, POINT, 40.0)
        with pytest.raises(TimeoutError):
            await next_value(subscription)
    assert await read_name(client, quiet_building, 2) == device.name
    assert device.instance in announced


async def test_set_value_refuses_an_unknown_device_or_point(
    quiet_building: SimulatedBuilding,
) -> None:
    with pytest.raises(ValueError, match="no device 77"):
        quiet_building.set_value(77, POINT, 1.0)
    with pytest.raises(ValueError, match="has no point analog-value,999"):
        quiet_building.set_value(1000, ObjectRef("analog-value", 999), 1.0)


def test_flaky_schedule_is_silent_at_the_end_of_each_period() -> None:
    schedule = FlakySchedule.parse("10:4")

    assert [schedule.silent_at(t) for t in (0, 5.9, 6, 9.9, 10, 16.5)] == [
        False, False, True, True, False, True,
    ]  # fmt: skip
    assert schedule.next_change(0) == 6
    assert schedule.next_change(7) == 3


@pytest.mark.parametrize("text", ["10", "4:10", "10:0", "a:b", "10:10"])
def test_flaky_schedule_refuses_what_cannot_alternate(text: str) -> None:
    with pytest.raises(ValueError, match=r"--flaky|flaky device"):
        FlakySchedule.parse(text)


async def test_a_flaky_device_goes_silent_and_comes_back_on_its_own(
    bacnet_port: int, client: Any
) -> None:
    async with SimulatedBuilding(
        devices=2,
        objects=5,
        port=bacnet_port,
        change_interval=3600,
        flaky=FlakySchedule(period=0.6, silent=0.3),
        flaky_indexes=(1,),
    ) as building:
        flaky = building.switch(building.devices[1].instance)
        steady = building.switch(building.devices[0].instance)
        seen = set()
        for _ in range(30):  # 1.5 s: two and a half periods
            seen.add(flaky.silent)
            assert not steady.silent
            await asyncio.sleep(0.05)
        assert seen == {True, False}
    assert not flaky.silent  # stopping restores it
