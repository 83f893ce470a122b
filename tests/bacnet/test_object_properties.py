"""Reading every property of one object (the point page's property browser) from the simulated
building: RPM of `all` where the device takes it, the standard properties one by one where it
refuses RPM, and the standard properties in batches where the `all` answer is too big."""

from __future__ import annotations

import pytest

from bms.bacnet.errors import RemoteError
from bms.bacnet.object_properties import ONE_BY_ONE, RPM_ALL, as_json, standard_properties
from bms.bacnet.types import ObjectRef
from bms.simulator import SimulatedBuilding
from tests.bacnet.client_peers import count_requests


@pytest.fixture
async def building(bacnet_port):
    async with SimulatedBuilding(
        devices=3, objects=12, port=bacnet_port, change_interval=5.0
    ) as started:
        yield started


def commandable_output(device):
    return next(ref for ref in device.objects if ref.object_type == "binary-output")


async def test_a_device_that_takes_rpm_gives_every_property_in_one_request(rig, building):
    device = next(d for d in building.devices if d.supports_rpm and d.segmented)
    client = await rig.client(timeout=2.0)
    ref = commandable_output(device)
    sent = count_requests(rig.client_app)
    read = await client.read_object(device.address, ref)
    assert read.method == RPM_ALL
    assert sent == {"ReadPropertyMultipleRequest": 1}
    assert read.values["object-identifier"] == str(ref)
    assert len(read.values["priority-array"]) == 16
    assert "relinquish-default" in read.values
    assert read.values["out-of-service"] is False
    assert read.values["status-flags"] == [False, False, False, False]


async def test_a_device_that_refuses_rpm_gets_the_standard_properties_one_by_one(rig, building):
    device = next(d for d in building.devices if not d.supports_rpm)
    client = await rig.client(timeout=2.0)
    ref = commandable_output(device)
    read = await client.read_object(device.address, ref)
    assert read.method == ONE_BY_ONE
    assert client.capabilities.get(device.address).rpm is False
    assert read.values["object-identifier"] == str(ref)
    assert len(read.values["priority-array"]) == 16
    assert "relinquish-default" in read.values
    assert "present-value" in read.values
    # Properties an AO may lack are left out, not shown as errors.
    assert "unknown-property" not in " ".join(read.errors.values())


async def test_a_small_device_whose_answer_is_too_big_gets_its_properties_in_batches(rig, building):
    device = next(d for d in building.devices if not d.segmented)
    client = await rig.client(timeout=2.0)
    # A long list of state texts makes the `all` answer exceed the device's 480 octets.
    ref = next(r for r in device.objects if r.object_type.startswith("multi-state"))
    read = await client.read_object(device.address, ref)
    assert read.values["object-identifier"] == str(ref)
    assert "state-text" in read.values
    assert read.method in (RPM_ALL, ONE_BY_ONE)


async def test_an_object_the_device_does_not_have_is_an_error(rig, building):
    device = building.devices[0]
    client = await rig.client(timeout=2.0)
    with pytest.raises(RemoteError, match="unknown-object"):
        await client.read_object(device.address, ObjectRef("analog-output", 999_999))


def test_values_become_json_that_every_database_stores():
    assert as_json(ObjectRef("device", 5)) == "device,5"
    assert as_json((1.5, float("nan"), b"\x01\xff", "a\x00b")) == [1.5, "nan", "01ff", "a\ufffdb"]
    assert as_json({"x": (True, None)}) == {"x": [True, None]}


def test_the_standard_properties_of_an_output_include_its_commanding_ones():
    names = standard_properties("analog-output")
    assert {"priority-array", "relinquish-default", "min-pres-value", "max-pres-value"} <= set(
        names
    )
    assert standard_properties("no-such-type")[0] == "object-identifier"
