"""Two IP subnets on one machine, for what only crosses a subnet boundary (BBMDs, foreign devices).

On the machine's own loopback every 127.x.y.z address is local and a datagram to 127.0.2.255
is plain unicast: one socket of those bound there gets it, not all (SO_REUSEPORT). A network
namespace the test creates gets a loopback of its own, where each subnet has its broadcast
address, as on a real LAN:

    127.0.1.0/24, broadcast 127.0.1.255: the worker's subnet
    127.0.2.0/24, broadcast 127.0.2.255: the building's subnet (its BBMD and devices)

Nothing leaves the namespace; it is deleted after the test. Needs `ip` (iproute2) and the right
to create namespaces (root): otherwise the test is skipped, or fails under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import require_services

WORKER_SUBNET = "127.0.1"
BUILDING_SUBNET = "127.0.2"


@contextmanager
def two_subnets() -> Iterator[list[str]]:
    """Yield the command prefix that runs a program inside the namespace."""
    name = f"bms-test-{uuid.uuid4().hex[:8]}"
    ip = shutil.which("ip")
    created = (
        ip is not None
        and subprocess.run([ip, "netns", "add", name], capture_output=True, text=True).returncode
        == 0
    )
    if not created or ip is None:
        reason = "network namespaces are unavailable here (`ip netns add` needs iproute2 and root)"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    inside = [ip, "netns", "exec", name]
    try:
        for command in (
            ["ip", "link", "set", "lo", "up"],
            [
                "ip",
                "addr",
                "add",
                f"{WORKER_SUBNET}.1/24",
                "brd",
                f"{WORKER_SUBNET}.255",
                "dev",
                "lo",
            ],
            [
                "ip",
                "addr",
                "add",
                f"{BUILDING_SUBNET}.1/24",
                "brd",
                f"{BUILDING_SUBNET}.255",
                "dev",
                "lo",
            ],
        ):
            subprocess.run([*inside, *command], check=True, capture_output=True, timeout=10)
        yield inside
    finally:
        subprocess.run([ip, "netns", "del", name], capture_output=True, timeout=10)
