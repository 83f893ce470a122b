"""Client requests under failure and load: one retry layer, global limit, failed batches.

Real bacpypes3 peers on loopback, plus a plain UDP socket standing in for a silent device so
that every datagram the client sends to it is counted.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from bacpypes3.app import Application

from bms.bacnet.errors import BACnetTimeoutError
from bms.bacnet.types import ObjectRef
from tests.bacnet.client_peers import (
    NoRpmApplication,
    many_analog_values,
    refs_of,
    track_in_flight,
)

SILENT_HOST = 250


@pytest.fixture
def silent_socket(bacnet_port):
    """A UDP socket on 127.0.0.250 that receives the client's requests and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((f"127.0.0.{SILENT_HOST}", bacnet_port))
    sock.setblocking(False)
    yield sock
    sock.close()


def datagrams(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return count
        count += 1


class DropsSomeRpm(Application):
    """A device that never answers an RPM asking for analog-value 120 (a lost batch)."""

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:
        asked = {int(spec.objectIdentifier[1]) for spec in apdu.listOfReadAccessSpecs}
        if 120 in asked:
            return
        await super().do_ReadPropertyMultipleRequest(apdu)


async def test_a_silent_peer_gets_one_datagram_per_attempt(rig, silent_socket):
    client = await rig.client(timeout=0.3, retries=2)
    started = time.monotonic()
    with pytest.raises(BACnetTimeoutError):
        await client.read_property(f"127.0.0.{SILENT_HOST}:{rig.port}", "AI:1", "present-value")
    # Our three attempts give up after 0.9 s; bacpypes3's own timer would wait 3 s for the
    # first alone. The bound tells the two apart with room for a loaded machine.
    assert time.monotonic() - started < 2.0
    # bacpypes3 on its own would retransmit every 3 s, 3 times, after we gave up: wait past
    # its first retransmission before counting.
    await asyncio.sleep(3.4 - (time.monotonic() - started))
    assert datagrams(silent_socket) == 3


async def test_requests_in_flight_across_peers_stay_under_the_global_limit(rig):
    for host in (2, 3, 4, 5):
        await rig.peer(host, 1000 + host, many_analog_values(12), app_class=NoRpmApplication)
    client = await rig.client(max_in_flight_per_peer=4, max_in_flight_total=6)
    peak = track_in_flight(rig.client_app)
    lists = await asyncio.gather(
        *(client.read_points(rig.address(host), 1000 + host) for host in (2, 3, 4, 5))
    )
    assert [len(points) for points in lists] == [12, 12, 12, 12]
    assert 4 < peak["max"] <= 6


async def test_a_lost_batch_leaves_the_other_batches_values(rig):
    objects = many_analog_values(60)  # analog-value 100..159: three RPMs of 24, 24, 12
    await rig.peer(2, 1001, objects, app_class=DropsSomeRpm)
    client = await rig.client(timeout=0.3, retries=0)
    client.capabilities.note_rpm(rig.address(2), True)
    values = await client.read_present_values(rig.address(2), refs_of(objects))
    lost = {ObjectRef("analog-value", n) for n in range(100, 124)}  # the batch holding 120
    assert set(values) == set(refs_of(objects)) - lost
    assert values[ObjectRef("analog-value", 159)] == 159.0


async def test_a_device_whose_every_batch_is_lost_is_a_timeout(rig, silent_socket):
    client = await rig.client(timeout=0.2, retries=0)
    address = f"127.0.0.{SILENT_HOST}:{rig.port}"
    client.capabilities.note_rpm(address, True)
    refs = [ObjectRef("analog-value", n) for n in range(60)]
    with pytest.raises(BACnetTimeoutError):
        await client.read_present_values(address, refs)
