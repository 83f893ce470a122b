"""Shared fixtures (loopback ports that no other test is using) and the second-pass replay hook."""

from __future__ import annotations

import os
import socket
from collections.abc import Generator

import pytest

from tests.second_pass import replay_second_pass


def _free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 now; tests use one port each so broadcasts stay private."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def bacnet_port() -> int:
    """A fresh UDP port: every BACnet host in the test binds 127.0.0.N on this port."""
    return _free_udp_port()


def require_services() -> bool:
    """REQUIRE_SERVICES=1 (CI) turns 'service not running' from a skip into a failure."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """After a test that ran a second pass (the PostgreSQL pass), report each of its tests."""
    try:
        return (yield)
    finally:
        replay_second_pass(item)
