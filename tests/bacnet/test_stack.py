"""Building the bacpypes3 Application: retries left to us, receive buffers, bind checks."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import (
    application_sockets,
    build_device_object,
    close_application,
    open_application,
)

RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
RMEM_DEFAULT = Path("/proc/sys/net/core/rmem_default")


async def test_the_stack_makes_one_attempt_of_our_timeout_per_request():
    # async: bacpypes3 objects schedule their own post-init on the running loop.
    device = build_device_object(EngineConfig(address="127.0.0.1/8", timeout=1.5, retries=4))
    assert device.numberOfApduRetries == 0
    assert device.apduTimeout == 1500


async def test_the_sockets_get_the_receive_buffer_asked_for(bacnet_port):
    if not RMEM_MAX.exists():
        pytest.skip("no /proc/sys/net/core/rmem_max (not Linux)")
    rmem_max, rmem_default = int(RMEM_MAX.read_text()), int(RMEM_DEFAULT.read_text())
    wanted = 2 * 1024 * 1024
    if rmem_max <= rmem_default:
        pytest.skip("this kernel allows no receive buffer above the default")
    app = await open_application(
        EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", receive_buffer=wanted)
    )
    try:
        sockets = application_sockets(app)
        assert len(sockets) == 2  # the local socket and the broadcast socket
        for sock in sockets:
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            # Linux reports twice what it granted (its bookkeeping included).
            assert granted >= 2 * min(wanted, rmem_max) > 2 * rmem_default
    finally:
        close_application(app)
