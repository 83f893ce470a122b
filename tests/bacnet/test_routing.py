"""The client reaching a device behind a real BACnet router on loopback.

Topology (two UDP ports are two BACnet networks: a broadcast on one never reaches the other)::

    network 1, port P1                               network 2, port P2
    client 127.0.0.1:P1 --- router 127.0.0.5:P1 | 127.0.0.5:P2 --- device 2001 127.0.0.60:P2

The router is one bacpypes3 Application with two IPv4 link layers bound to network numbers
1 and 2. The client knows neither number: it learns the route from the router's traffic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from bacpypes3.app import Application

from bms.bacnet.errors import BACnetTimeoutError
from bms.bacnet.types import CovNotification, ObjectRef
from tests.bacnet.client_peers import Rig, free_udp_port, local_object, point_objects, refs_of

ROUTER_HOST, DEVICE_HOST = 5, 60
ROUTER, DEVICE = 500, 2001
AI = ObjectRef("analog-input", 1)
AO = ObjectRef("analog-output", 1)


@dataclass
class Routed:
    rig: Rig
    remote_port: int
    device: Application

    @property
    def device_mac(self) -> str:
        """The device's BACnet/IP MAC on network 2 (4 octets of IP, 2 of port), as hex."""
        return (bytes((127, 0, 0, DEVICE_HOST)) + self.remote_port.to_bytes(2, "big")).hex()

    @property
    def device_ip_address(self) -> str:
        """The routed address as a person would type it."""
        return f"2:127.0.0.{DEVICE_HOST}:{self.remote_port}"


@pytest.fixture
async def routed(rig, bacnet_port):
    remote_port = free_udp_port()
    await rig.router(
        ROUTER,
        {
            1: f"127.0.0.{ROUTER_HOST}/8:{bacnet_port}",
            2: f"127.0.0.{ROUTER_HOST}/8:{remote_port}",
        },
    )
    device = await rig.peer(DEVICE_HOST, DEVICE, port=remote_port)
    return Routed(rig, remote_port, device)


async def test_who_is_finds_the_device_behind_the_router_with_network_and_mac(routed):
    client = await routed.rig.client()
    records = await client.who_is(expected=2, timeout=3.0)
    by_instance = {record.device_instance: record for record in records}
    assert sorted(by_instance) == [ROUTER, DEVICE]

    router = by_instance[ROUTER]  # on our own network: a plain local address
    assert (router.network, router.mac) == (None, None)
    assert router.address == routed.rig.address(ROUTER_HOST)

    device = by_instance[DEVICE]
    assert device.network == 2
    assert device.mac == routed.device_mac
    assert device.address == f"2:0x{routed.device_mac}"
    # Both spellings of the routed address name the same peer, so caches and keys agree.
    assert client.peer(device.address).key == device.address
    assert client.peer(routed.device_ip_address).key == device.address


async def test_device_info_points_and_writes_work_on_the_routed_address(routed):
    client = await routed.rig.client()
    records = await client.who_is(expected=2, timeout=3.0)
    address = next(r.address for r in records if r.device_instance == DEVICE)

    info = await client.read_device_info(address, DEVICE)
    assert (info.name, info.address, info.max_apdu) == (f"peer-{DEVICE}", address, 1476)

    points = await client.read_points(address, DEVICE)
    assert [p.ref for p in points] == refs_of(point_objects())
    assert points[0].present_value == 21.5

    await client.write_property(address, AO, 42.5, priority=8)
    assert local_object(routed.device, AO).presentValue == 42.5
    assert client.capabilities.get(address).rpm is True


async def test_a_client_that_never_sent_who_is_finds_the_route_itself(routed):
    client = await routed.rig.client()
    # A worker restarting with stored addresses reads before any Who-Is: bacpypes3 asks
    # Who-Is-Router-To-Network first.
    assert await client.read_property(routed.device_ip_address, AI, "present-value") == 21.5
    await client.write_property(routed.device_ip_address, AO, 7.0, priority=8)
    assert local_object(routed.device, AO).presentValue == 7.0


async def test_who_is_to_the_remote_network_finds_only_its_devices(routed):
    client = await routed.rig.client()
    records = await client.who_is(address="2:*", timeout=0.5)
    assert [(r.device_instance, r.network) for r in records] == [(DEVICE, 2)]
    directed = await client.who_is(address=routed.device_ip_address, expected=1, timeout=2.0)
    assert [r.mac for r in directed] == [routed.device_mac]


async def test_cov_notifications_come_back_through_the_router(routed):
    client = await routed.rig.client()
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    await client.subscribe_cov(routed.device_ip_address, AI, queue.put_nowait, confirmed=True)
    await asyncio.wait_for(queue.get(), 2.0)  # the current value, sent at once
    local_object(routed.device, AI).presentValue = 30.0
    change = await asyncio.wait_for(queue.get(), 2.0)
    assert change.values["present-value"] == 30.0
    assert change.device_address == f"2:0x{routed.device_mac}"
    assert change.device_instance == DEVICE


async def test_a_network_no_router_serves_times_out_within_the_bound(routed):
    client = await routed.rig.client(timeout=0.3, retries=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BACnetTimeoutError):
        await client.read_property(
            f"3:127.0.0.{DEVICE_HOST}:{routed.remote_port}", AI, "present-value"
        )
    assert loop.time() - started < client.request_bound() + 0.3
