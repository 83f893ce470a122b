"""Device 8888 serves VirtualTrendLog rows with the logged object's readings as records.

A real Engine with VirtualSync on 127.0.0.2 over the test database; a bacpypes3 client on
127.0.0.4 reads with ReadRange by position, sequence number and time. 15 readings (one a
minute, values 1..15) and a buffer of 10: the buffer has wrapped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.read_range import ByPosition, BySequence, ByTime
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.trendlog_client import TrendLogClient
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetReading
from bms.virtual.models import VirtualBACnetDevice, VirtualObject, VirtualTrendLog
from bms.worker.virtual_sync import VirtualSync

pytestmark = pytest.mark.django_db(transaction=True)
LOG = ObjectRef("trend-log", 7)
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def at(n: int) -> datetime:
    return START + timedelta(minutes=n)


def make_rows() -> VirtualObject:
    device = VirtualBACnetDevice.objects.create(device_id=100, device_name="AHU")
    obj = VirtualObject.objects.create(
        device=device, object_type="analog-value", instance=1, name="Setpoint"
    )
    BACnetReading.objects.bulk_create(
        BACnetReading(virtual_object=obj, value=float(n), timestamp=at(n), source="poll")
        for n in range(1, 16)
    )
    VirtualTrendLog.objects.create(
        instance=7, name="Setpoint_Log", logged_object=obj, buffer_size=10
    )
    return obj


@dataclass
class Rig:
    engine: Engine
    reader: TrendLogClient
    client: object
    address: str


@pytest.fixture(name="rig")
async def source_rig(bacnet_port: int) -> AsyncIterator[Rig]:
    await sync_to_async(make_rows)()
    config = EngineConfig(address=f"127.0.0.2/8:{bacnet_port}", time_zone="UTC")
    async with Engine(config) as engine:
        await VirtualSync(engine.device).sync_once()
        client_config = EngineConfig(address=f"127.0.0.4/8:{bacnet_port}", device_instance=9004)
        client = await open_application(client_config)
        try:
            reader = TrendLogClient(Requester(client, client_config), UTC)
            yield Rig(engine, reader, client, f"127.0.0.2:{bacnet_port}")
        finally:
            close_application(client)


async def test_counts_and_ranges_come_from_the_readings(rig: Rig) -> None:
    peer = parse_peer(rig.address)
    oid = ObjectIdentifier(("trendLog", 7))
    total = await rig.client.read_property(Address(rig.address), oid, "totalRecordCount")  # type: ignore[attr-defined]
    assert int(total) == 15
    by_position = await rig.reader.read_range(peer, LOG, ByPosition(1, 3))
    assert [e.value for e in by_position.entries] == [6.0, 7.0, 8.0]  # 1..5 wrapped out
    assert by_position.first_item
    by_sequence = await rig.reader.read_range(peer, LOG, BySequence(14, 5))
    assert [e.sequence for e in by_sequence.entries] == [14, 15]
    assert by_sequence.last_item
    by_time = await rig.reader.read_range(peer, LOG, ByTime(at(10), -2))
    assert [e.value for e in by_time.entries] == [8.0, 9.0]


async def test_a_new_reading_is_the_next_sequence_number(rig: Rig) -> None:
    obj = await sync_to_async(VirtualObject.objects.get)(instance=1)
    await sync_to_async(BACnetReading.objects.create)(
        virtual_object=obj, value=16.0, timestamp=at(16), source="cov"
    )
    page = await rig.reader.read_range(parse_peer(rig.address), LOG, BySequence(16, 1))
    assert [(e.sequence, e.value) for e in page.entries] == [(16, 16.0)]
