"""Simulated devices log their first analog input into a trend log read with ReadRange."""

from __future__ import annotations

import asyncio
from datetime import UTC

from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.read_range import ByPosition
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.trendlog_client import TrendLogClient
from bms.bacnet.types import ObjectRef
from bms.simulator import SimulatedBuilding

LOG = ObjectRef("trend-log", 1)


async def test_each_device_logs_its_first_analog_input_every_interval(bacnet_port: int) -> None:
    building = SimulatedBuilding(
        devices=2, objects=6, port=bacnet_port, trend_interval=0.2, trend_buffer=3
    )
    async with building:
        await asyncio.sleep(1.1)  # ~5 records each; the buffer of 3 wraps
        config = EngineConfig(address=f"127.0.0.30/8:{bacnet_port}", device_instance=9010)
        client = await open_application(config)
        try:
            reader = TrendLogClient(Requester(client, config), UTC)
            for device in building.devices:
                page = await reader.read_range(parse_peer(device.address), LOG, ByPosition(1, 10))
                total = await client.read_property(
                    Address(device.address), ObjectIdentifier(("trendLog", 1)), "totalRecordCount"
                )
                assert len(page.entries) == 3  # the buffer's size
                assert int(total) >= 4  # total-record-count kept counting past the buffer
                assert all(isinstance(entry.value, float) for entry in page.entries)
        finally:
            close_application(client)
