"""The control socket: in process, and through `python -m bms.simulator --control` (one process
or several, the parent forwarding to the child that runs the device)."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from bms.simulator import SimulatedBuilding
from bms.simulator.commands import BuildingCommands, parse_reply
from bms.simulator.control import ControlClient, ControlServer
from tests.simulator.test_cli import cli, i_ams

# The window of the Who-Is that must not hear the silenced device (and must hear the others,
# which on a loaded machine may answer later than the 1 s it was).
WHO_IS_WAIT = 3.0


async def test_pipelined_commands_get_their_replies_in_order(
    bacnet_port: int, tmp_path: Path
) -> None:
    path = str(tmp_path / "sim.sock")
    async with SimulatedBuilding(
        devices=2, objects=10, port=bacnet_port, change_interval=3600
    ) as building:
        server = ControlServer(path, BuildingCommands(building).handle)
        await server.start()
        client = await ControlClient.connect(path)
        try:
            replies = await client.send_many(
                ["silence 1001", "set 1000 AV:1 5", "bogus", "status 1001", "restore 1001"]
            )
        finally:
            await client.close()
            await server.close()
        mode = None if os.path.exists(path) else "gone"

    assert [reply.split()[0] for reply in replies] == ["ok", "ok", "error", "ok", "ok"]
    assert parse_reply(replies[3])["state"] == "silent"
    assert parse_reply(replies[4])["state"] == "answering"
    assert mode == "gone"  # close() removes the socket file


async def test_a_stale_socket_file_is_replaced_but_another_file_is_refused(
    tmp_path: Path,
) -> None:
    async def handler(line: str) -> str:
        return "ok"

    stale = str(tmp_path / "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as killed:
        killed.bind(stale)  # a killed simulator leaves its socket file behind
    server = ControlServer(stale, handler)
    await server.start()
    client = await ControlClient.connect(stale)
    reply = await client.send("anything")
    await client.close()
    assert stat.S_IMODE(os.stat(stale).st_mode) == 0o600
    await server.close()
    assert reply == "ok"

    regular = tmp_path / "notes.txt"
    regular.write_text("keep me")
    with pytest.raises(ValueError, match="is not a socket"):
        await ControlServer(str(regular), handler).start()
    assert regular.read_text() == "keep me"


@pytest.mark.slow
@pytest.mark.parametrize("processes", ["1", "2"])
async def test_the_cli_control_socket_silences_a_device_in_any_process(
    bacnet_port: int, client: Any, tmp_path: Path, processes: str
) -> None:
    path = str(tmp_path / "sim.sock")
    args = ("--devices", "4", "--objects", "10", "--port", str(bacnet_port))
    async with cli(*args, "--processes", processes, "--control", path) as running:
        await running.wait_ready()
        tool = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms.simulator.control", path, "silence 1003", "status 1003",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await tool.communicate()
        answers = await client.who_is(timeout=WHO_IS_WAIT)
        control = await ControlClient.connect(path)
        try:
            unknown = await control.send("restore 4000")
            restored = await control.send("restore 1003")
        finally:
            await control.close()
        answers_after = await i_ams(client, 4)
        code = await running.stop(2)  # SIGINT

    assert tool.returncode == 0, output
    assert parse_reply(output.decode().splitlines()[1])["state"] == "silent"
    assert sorted(a.iAmDeviceIdentifier[1] for a in answers) == [1000, 1001, 1002]
    assert unknown == "error no device 4000 in this building"
    assert parse_reply(restored)["state"] == "answering"
    assert sorted(a.iAmDeviceIdentifier[1] for a in answers_after) == [1000, 1001, 1002, 1003]
    assert code == 0
    assert not os.path.exists(path)


async def test_the_control_tool_exits_2_when_nothing_listens(tmp_path: Path) -> None:
    tool = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms.simulator.control", str(tmp_path / "none.sock"), "status 1",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, errors = await tool.communicate()

    assert tool.returncode == 2
    assert b"none.sock" in errors
