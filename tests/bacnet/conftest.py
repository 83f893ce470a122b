"""Fixtures for the BACnet tests: real bacpypes3 hosts on loopback, on the test's own port.

tests/bacnet/test_device.py has a `rig` of its own (device 8888 and a plain bacpypes3 client);
a module's fixture overrides this one by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bacnet.client_peers import Rig


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    """The client under test and its peers (tests/bacnet/client_peers.py), closed afterwards."""
    rig = Rig(bacnet_port)
    yield rig
    await rig.close()
