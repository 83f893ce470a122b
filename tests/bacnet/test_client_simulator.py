"""The client against the simulated building, whose small devices enforce their own max APDU.

Plain bacpypes3 peers answer up to the *client's* max APDU whatever they say about themselves;
the simulator's no-segmentation device aborts any answer over its 480 octets, as a small real
controller does. So here an RPM sized wrongly is an Abort, not a silent success.
"""

from __future__ import annotations

from typing import Any

import pytest

from bms.bacnet.types import POINT_TYPES
from bms.simulator import SimulatedBuilding
from tests.bacnet.client_peers import count_requests

DEVICES = 3
OBJECTS = 120  # the no-segmentation device's object list (~610 octets) exceeds 480


@pytest.fixture
async def building(bacnet_port):
    async with SimulatedBuilding(
        devices=DEVICES, objects=OBJECTS, port=bacnet_port, change_interval=5.0
    ) as started:
        yield started


async def test_every_simulated_device_gives_its_complete_point_list(rig, building):
    client = await rig.client(timeout=2.0)
    records = await client.who_is(expected=DEVICES, timeout=3.0)
    assert [r.device_instance for r in records] == [d.instance for d in building.devices]
    aborts = count_aborts(rig.client_app)
    for device in building.devices:
        points = await client.read_points(device.address, device.instance)
        expected = [ref for ref in device.objects if ref.object_type in POINT_TYPES]
        assert [p.ref for p in points] == expected, device.describe()
        assert all(p.name for p in points)
    small = next(d for d in building.devices if not d.segmented)
    # Seeded from its I-Am, every request to the small device was sized to fit its 480 octets.
    assert aborts[small.address] == 0


async def test_a_small_device_found_without_i_am_is_learnt_from_its_abort(rig, building):
    small = next(d for d in building.devices if not d.segmented)
    client = await rig.client(timeout=2.0)
    refs = await client.read_object_list(small.address, small.instance)
    # the device, its network port, the points, then its schedule, calendar and trend log
    points = refs[2 : 2 + len(small.objects)]
    assert points == list(small.objects)
    assert [ref.object_type for ref in refs[2 + len(points) :]] == [
        "schedule",
        "calendar",
        "trend-log",
    ]
    assert client.capabilities.get(small.address).segmentation is False
    sent = count_requests(rig.client_app)
    again = await client.read_object_list(small.address, small.instance)
    assert again == refs
    assert sent["ReadPropertyRequest"] == 1  # only index 0: the cache skipped the whole read


def count_aborts(app: Any) -> dict[str, int]:
    """Count answers that came back as Abort PDUs, per peer address."""
    from collections import Counter

    from bacpypes3.apdu import AbortPDU

    aborts: Counter[str] = Counter()
    original = app.request

    def watching_request(apdu: Any) -> Any:
        future = original(apdu)

        def check(done: Any) -> None:
            if not done.cancelled() and isinstance(done.exception(), AbortPDU):
                aborts[str(apdu.pduDestination)] += 1

        future.add_done_callback(check)
        return future

    app.request = watching_request
    return aborts
