"""Client discovery: Who-Is / I-Am against real bacpypes3 peers on loopback."""

from __future__ import annotations

import math
import time

import pytest

from bms.bacnet.client import DEVICE_INFO_FIELDS, DEVICE_INFO_WITHOUT_I_AM, I_AM_FIELDS
from bms.bacnet.discovery import IAmCollector
from bms.bacnet.errors import InvalidValueError
from tests.bacnet.client_peers import NoRpmApplication, TerseDevice, count_requests


@pytest.fixture
async def three_peers(rig):
    await rig.peer(2, 1001)
    await rig.peer(3, 1002, [], segmentation="no-segmentation", max_apdu=480)
    await rig.peer(4, 1003, [])
    return rig


async def test_who_is_finds_exactly_the_peers(three_peers):
    client = await three_peers.client()
    records = await client.who_is(timeout=0.5)
    assert [r.device_instance for r in records] == [1001, 1002, 1003]
    by_instance = {r.device_instance: r for r in records}
    assert by_instance[1002].address == three_peers.address(3)
    assert by_instance[1002].max_apdu == 480
    assert by_instance[1002].segmentation == "no-segmentation"
    assert by_instance[1001].segmentation == "segmented-both"
    assert by_instance[1001].vendor_id == 999
    assert by_instance[1001].network is None


async def test_who_is_with_a_range_returns_only_devices_in_it(three_peers):
    client = await three_peers.client()
    records = await client.who_is(1002, 1003, timeout=0.5)
    assert [r.device_instance for r in records] == [1002, 1003]


# The early ends below are told from waiting out the whole timeout: the answers come within
# milliseconds on loopback, the timeout is LONG_TIMEOUT, and the bound sits between them with
# room for a loaded machine.
LONG_TIMEOUT = 30.0
ENDED_EARLY_SECONDS = 10.0


async def test_who_is_returns_early_once_the_expected_devices_answered(three_peers):
    client = await three_peers.client()
    started = time.monotonic()
    # No quiet period: only the expected count can end it before the timeout.
    records = await client.who_is(expected=3, timeout=LONG_TIMEOUT, quiet=math.inf)
    assert time.monotonic() - started < ENDED_EARLY_SECONDS
    assert len(records) == 3


async def test_who_is_waits_the_full_timeout_when_fewer_than_expected_answer(three_peers):
    client = await three_peers.client()
    started = time.monotonic()
    records = await client.who_is(expected=4, timeout=0.8, quiet=math.inf)
    assert time.monotonic() - started >= 0.75
    assert len(records) == 3


async def test_who_is_ends_a_quiet_period_after_the_last_answer(three_peers):
    client = await three_peers.client(discovery_quiet=0.3)
    started = time.monotonic()
    records = await client.who_is(timeout=LONG_TIMEOUT)
    assert time.monotonic() - started < ENDED_EARLY_SECONDS  # about 0.3 s after the last answer
    assert [r.device_instance for r in records] == [1001, 1002, 1003]


async def test_who_is_without_any_answer_waits_the_whole_timeout(three_peers):
    client = await three_peers.client(discovery_quiet=0.1)
    started = time.monotonic()
    records = await client.who_is(5000, 5009, timeout=0.6)
    assert time.monotonic() - started >= 0.55
    assert records == []


def test_the_quiet_period_never_outlasts_the_deadline():
    collector = IAmCollector(None, None, None, None)
    assert collector.wait_left(now=10.0, deadline=12.0, quiet=0.5) == 2.0  # no answer yet
    collector.last_answer = 10.0
    assert collector.wait_left(now=10.2, deadline=12.0, quiet=0.5) == pytest.approx(0.3)
    assert collector.wait_left(now=11.9, deadline=12.0, quiet=5.0) == pytest.approx(0.1)
    assert collector.wait_left(now=10.6, deadline=12.0, quiet=0.5) < 0


async def test_who_is_to_one_address_finds_only_that_device(three_peers):
    client = await three_peers.client()
    records = await client.who_is(address=three_peers.address(3), timeout=0.5)
    assert [(r.device_instance, r.address) for r in records] == [(1002, three_peers.address(3))]


async def test_who_is_to_a_directed_broadcast_finds_every_device(three_peers):
    client = await three_peers.client()
    records = await client.who_is(address=f"127.255.255.255:{three_peers.port}", timeout=0.5)
    assert [r.device_instance for r in records] == [1001, 1002, 1003]


async def test_who_is_seeds_the_capability_cache_from_i_am(three_peers):
    client = await three_peers.client()
    await client.who_is(expected=3, timeout=2.0)
    caps = client.capabilities.get(three_peers.address(3))
    assert (caps.max_apdu, caps.segmentation) == (480, False)
    assert client.capabilities.get(three_peers.address(2)).segmentation is True


async def test_who_is_refuses_a_half_open_range(rig):
    client = await rig.client()
    with pytest.raises(InvalidValueError):
        await client.who_is(low=5)
    with pytest.raises(InvalidValueError):
        await client.who_is(low=9, high=3)


async def test_device_info_reads_the_device_object_in_one_rpm(three_peers):
    client = await three_peers.client()
    sent = count_requests(three_peers.client_app)
    info = await client.read_device_info(three_peers.address(2), 1001)
    assert sent == {"ReadPropertyMultipleRequest": 1}
    assert info.device_instance == 1001
    assert info.address == three_peers.address(2)
    assert info.name == "peer-1001"
    assert info.vendor_name == "BMS open source"
    assert info.vendor_id == 999
    assert info.model_name == "BMS"
    assert info.protocol_revision is not None
    assert info.protocol_revision >= 1
    assert info.max_apdu == 1476
    assert info.segmentation == "segmented-both"
    assert "read-property-multiple" in info.services_supported


async def test_device_info_takes_what_the_i_am_said_instead_of_reading_it_again(three_peers):
    client = await three_peers.client()
    (record,) = await client.who_is(1001, 1001)
    asked: list[str] = []
    original = three_peers.client_app.request

    def recording_request(apdu):
        for spec in getattr(apdu, "listOfReadAccessSpecs", None) or ():
            asked.extend(str(ref.propertyIdentifier) for ref in spec.listOfPropertyReferences)
        return original(apdu)

    three_peers.client_app.request = recording_request
    info = await client.read_device_info(record.address, 1001, i_am=record)
    assert sorted(asked) == sorted(DEVICE_INFO_WITHOUT_I_AM)
    assert not set(asked) & set(I_AM_FIELDS)
    assert (info.max_apdu, info.segmentation, info.vendor_id) == (
        record.max_apdu,
        record.segmentation,
        record.vendor_id,
    )
    assert (info.max_apdu, info.segmentation, info.vendor_id) == (1476, "segmented-both", 999)
    assert info.name == "peer-1001"
    assert "read-property-multiple" in info.services_supported
    # Another device's I-Am is not taken for this one: everything is read.
    other = await client.read_device_info(three_peers.address(3), 1002, i_am=record)
    assert other.device_instance == 1002
    assert len(asked) == (len(DEVICE_INFO_WITHOUT_I_AM) + len(DEVICE_INFO_FIELDS))


async def test_device_info_leaves_properties_the_device_lacks_empty(rig):
    await rig.peer(2, 1001, [], device_class=TerseDevice)
    await rig.peer(3, 1002, [], device_class=TerseDevice, app_class=NoRpmApplication)
    client = await rig.client()
    for host, instance in ((2, 1001), (3, 1002)):
        info = await client.read_device_info(rig.address(host), instance)
        assert (info.description, info.location) == ("", "")
        assert info.name == f"peer-{instance}"
        assert info.vendor_id == 999


async def test_device_info_falls_back_to_read_property_without_rpm(rig):
    await rig.peer(2, 1001, [], app_class=NoRpmApplication)
    client = await rig.client()
    sent = count_requests(rig.client_app)
    info = await client.read_device_info(rig.address(2), 1001)
    assert info.name == "peer-1001"
    assert info.model_name == "BMS"
    assert info.max_apdu == 1476
    assert sent["ReadPropertyMultipleRequest"] == 1
    assert sent["ReadPropertyRequest"] == len(DEVICE_INFO_FIELDS)
    assert client.capabilities.get(rig.address(2)).rpm is False
