"""A running building and a plain bacpypes3 client on 127.0.0.1, both on the test's own port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.simulator import SimulatedBuilding

DEVICES = 4
OBJECTS = 100  # enough that the no-segmentation device's object list exceeds its 480 octets
CHANGE_INTERVAL = 0.2


@pytest.fixture
async def building(bacnet_port: int) -> AsyncIterator[SimulatedBuilding]:
    async with SimulatedBuilding(
        devices=DEVICES, objects=OBJECTS, port=bacnet_port, change_interval=CHANGE_INTERVAL
    ) as started:
        yield started


@pytest.fixture
async def client(bacnet_port: int) -> AsyncIterator[Any]:
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", device_instance=9999, timeout=2.0)
    app: Any = await open_application(config)
    try:
        yield app
    finally:
        close_application(app)
