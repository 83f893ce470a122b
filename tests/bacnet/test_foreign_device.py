"""The engine as a foreign device: registering with a BBMD to discover devices on another subnet.

The subnet-crossing tests run in a network namespace the test creates (tests/netns.py), the
rest on the machine's loopback against real bacpypes3 peers.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import ConfigurationError, LocalError
from bms.bacnet.stack import close_application, foreign_registration, open_application
from tests.bacnet.client_peers import Rig, client_config
from tests.netns import WORKER_SUBNET, two_subnets

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("bbmd", "ttl", "message"),
    [
        ("192.168.2", 300, "bad BBMD address"),
        ("192.168.2.1:0", 300, "bad port"),
        ("192.168.2.1", 0, "outside 1..65535"),
    ],
)
def test_a_bad_bbmd_setting_is_a_configuration_error(bbmd: str, ttl: int, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        EngineConfig(address="127.0.0.1/8", foreign_bbmd=bbmd, foreign_ttl=ttl)


def test_the_bbmd_port_defaults_to_47808_and_a_device_is_not_both_kinds() -> None:
    assert EngineConfig(address="127.0.0.1/8", foreign_bbmd="127.0.0.9").bbmd == (
        "127.0.0.9",
        47808,
    )
    assert EngineConfig(address="127.0.0.1/8").bbmd is None
    with pytest.raises(ConfigurationError, match="not both"):
        EngineConfig(address="127.0.0.1/8", foreign_bbmd="127.0.0.9", accept_foreign_devices=True)


def test_across_subnets_only_the_foreign_device_discovers_and_reads_the_devices() -> None:
    with two_subnets() as inside:
        done = subprocess.run(
            [*inside, sys.executable, "-m", "tests.bacnet.foreign_scenario", "47808"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["normal"] == []
    assert found["normal_registration"] is None  # another subnet
    assert found["foreign"] == [900, 905, 906, 907]
    assert found["foreign_registration"] == "registered"
    assert found["read_across"] == "device-905"
    assert found["fdt"] == [f"{WORKER_SUBNET}.11:47808"]


async def test_a_device_that_is_not_a_bbmd_refuses_the_registration(bacnet_port: int) -> None:
    rig = Rig(bacnet_port)
    try:
        await rig.peer(5, 2005)  # a plain device: it answers Register-Foreign-Device with a NAK
        with pytest.raises(ConfigurationError, match="refused by the BBMD"):
            await open_application(
                client_config(bacnet_port, foreign_bbmd=f"127.0.0.5:{bacnet_port}")
            )
    finally:
        await rig.close()


async def test_an_unanswered_registration_is_logged_and_a_who_is_says_why_it_cannot_run(
    bacnet_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = client_config(bacnet_port, foreign_bbmd=f"127.0.0.250:{bacnet_port}", timeout=0.3)
    with caplog.at_level(logging.WARNING, logger="bms.bacnet.stack"):
        app = await open_application(config)
    client = Client(app, config)
    try:
        assert foreign_registration(app) == "pending"
        assert "has not answered our foreign-device registration" in caplog.text
        with pytest.raises(LocalError, match=r"not registered with BBMD 127\.0\.0\.250"):
            await client.who_is(timeout=0.5)
    finally:
        await client.close()
        close_application(app)
