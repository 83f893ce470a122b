"""`python -m bms.simulator` as a real subprocess: discoverable, stops cleanly on signals."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bms.bacnet.stack import ensure_port_free
from bms.simulator import SimulatedBuilding

START_SECONDS = 15.0
STOP_SECONDS = 5.0
I_AM_SECONDS = 10.0  # bounds the Who-Is rounds that end once every expected device answered


async def i_ams(client: Any, count: int) -> list[Any]:
    """The I-Ams of Who-Is rounds (a 1 s window each, bacpypes3's) until `count` devices have
    answered or I_AM_SECONDS have passed, one per device: on a loaded machine the simulator's
    processes may answer later than one window."""
    found: dict[int, Any] = {}
    deadline = asyncio.get_running_loop().time() + I_AM_SECONDS
    while len(found) < count and asyncio.get_running_loop().time() < deadline:
        for answer in await client.who_is(timeout=1):
            found.setdefault(answer.iAmDeviceIdentifier[1], answer)
    return list(found.values())


class RunningCli:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def wait_ready(self) -> None:
        assert self.process.stdout is not None
        async with asyncio.timeout(START_SECONDS):
            while line := await self.process.stdout.readline():
                self.lines.append(line.decode().rstrip("\n"))
                if self.lines[-1].startswith("ready:"):
                    return
        raise AssertionError(f"no ready line; output: {self.lines}")

    async def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        async with asyncio.timeout(STOP_SECONDS):
            return await self.process.wait()

    def device_lines(self) -> list[str]:
        return [line for line in self.lines if line.startswith("device ")]


@asynccontextmanager
async def cli(*args: str) -> AsyncIterator[RunningCli]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms.simulator", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield RunningCli(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def assert_port_free(hosts: list[str], port: int) -> None:
    # The broadcast address stays bound by the test's client, so only the devices' own hosts.
    for host in hosts:
        ensure_port_free(host, port)  # raises PortInUseError if a socket is left behind


def hosts_of(lines: list[str]) -> list[str]:
    return [line.split()[2].rpartition(":")[0] for line in lines]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_cli_is_discoverable_and_exits_0_on_a_signal(
    bacnet_port: int, client: Any, signum: int
) -> None:
    async with cli("--devices", "3", "--objects", "30", "--port", str(bacnet_port)) as running:
        await running.wait_ready()
        answers = await i_ams(client, 3)
        code = await running.stop(signum)

    assert sorted(answer.iAmDeviceIdentifier[1] for answer in answers) == [1000, 1001, 1002]
    assert code == 0
    lines = running.device_lines()
    assert hosts_of(lines) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert "segmentation=no-segmentation" in lines[1]
    assert "rpm=no" in lines[2]
    assert_port_free(hosts_of(lines), bacnet_port)


@pytest.mark.slow
async def test_cli_spreads_devices_over_processes_and_stops_them_all(
    bacnet_port: int, client: Any
) -> None:
    args = ["--devices", "5", "--objects", "20", "--port", str(bacnet_port), "--processes", "2"]
    async with cli(*args) as running:
        await running.wait_ready()
        answers = await i_ams(client, 5)
        code = await running.stop(signal.SIGTERM)

    assert sorted(answer.iAmDeviceIdentifier[1] for answer in answers) == list(range(1000, 1005))
    assert code == 0
    assert running.lines[-1] == "ready: 5 devices in 2 processes"
    by_instance = {line.split()[1]: line for line in running.device_lines()}
    assert sorted(by_instance) == ["1000", "1001", "1002", "1003", "1004"]
    assert "segmentation=no-segmentation" in by_instance["1001"]
    assert "rpm=no" in by_instance["1002"]
    assert sum("segmentation=no-segmentation" in line for line in by_instance.values()) == 1
    assert_port_free(hosts_of(running.device_lines()), bacnet_port)


async def test_cli_refuses_a_non_loopback_address(bacnet_port: int) -> None:
    args = ["--devices", "2", "--first-address", "10.0.0.2", "--port", str(bacnet_port)]
    async with cli(*args) as running:
        async with asyncio.timeout(START_SECONDS):
            _, stderr = await running.process.communicate()

    assert running.process.returncode == 2
    assert b"not a loopback address" in stderr


async def test_cli_reports_a_port_in_use_and_exits_non_zero(bacnet_port: int) -> None:
    async with (
        SimulatedBuilding(devices=1, objects=0, port=bacnet_port),
        cli("--devices", "2", "--objects", "5", "--port", str(bacnet_port)) as running,
        asyncio.timeout(START_SECONDS),
    ):
        _, stderr = await running.process.communicate()

    assert running.process.returncode == 2
    assert b"already in use" in stderr
