"""Control command lines: parsed strictly, run against a real building, errors said in the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bms.bacnet.types import ObjectRef
from bms.simulator import SimulatedBuilding
from bms.simulator.commands import (
    BuildingCommands,
    CommandError,
    parse_command,
    parse_reply,
    parse_value,
)


@pytest.fixture
async def commands(bacnet_port: int) -> AsyncIterator[BuildingCommands]:
    async with SimulatedBuilding(
        devices=2, objects=20, port=bacnet_port, change_interval=3600
    ) as building:
        yield BuildingCommands(building)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty command"),
        ("reboot 1000", "unknown command 'reboot'"),
        ("silence", "usage: silence DEVICE"),
        ("silence 1000 now", "usage: silence DEVICE"),
        ("set 1000 analog-value,1", "usage: set DEVICE OBJECT VALUE"),
        ("status ahu-1", "DEVICE is a device instance number"),
    ],
)
def test_malformed_lines_are_refused_with_their_usage(line: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(line)


@pytest.mark.parametrize(
    ("ref", "text", "value"),
    [
        ("analog-input,1", "21.5", 21.5),
        ("binary-value,2", "1", "active"),
        ("binary-output,1", "Inactive", "inactive"),
        ("multi-state-value,1", "3", 3),
    ],
)
def test_values_are_read_by_object_type(ref: str, text: str, value: object) -> None:
    assert parse_value(ObjectRef.parse(ref), text) == value


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        ("analog-input,1", "warm"),
        ("analog-input,1", "nan"),
        ("binary-value,2", "on"),
        ("multi-state-value,1", "0"),
        ("device,1", "1"),
    ],
)
def test_values_that_do_not_fit_the_object_are_refused(ref: str, text: str) -> None:
    with pytest.raises(CommandError):
        parse_value(ObjectRef.parse(ref), text)


async def test_set_changes_the_object_and_says_when(commands: BuildingCommands) -> None:
    fields = parse_reply(await commands.handle("set 1001 AV:1 12.25"))

    assert fields["object"] == "analog-value,1"
    assert fields["value"] == "12.25"
    assert float(fields["at"]) > 0
    status = parse_reply(await commands.handle("status 1001"))
    assert status["state"] == "answering"
    assert status["subscriptions"] == "0"


async def test_silence_and_restore_report_the_new_state(commands: BuildingCommands) -> None:
    silenced = parse_reply(await commands.handle("silence 1000"))
    assert silenced["state"] == "silent"
    assert "silent-since" in silenced

    assert parse_reply(await commands.handle("restore 1000"))["state"] == "answering"
    assert parse_reply(await commands.handle("restart 1000 0"))["dropped-subscriptions"] == "0"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("silence 4242", "error no device 4242 in this building"),
        ("set 1000 analog-value,999 1", "error device 1000 has no point analog-value,999"),
        ("set 1000 analog-value,1 hot", "error analog-value,1 takes a finite number"),
        ("restart 1000 -1", "error SECONDS is from 0 to 300"),
        ("jump 1000", "error unknown command 'jump'"),
    ],
)
async def test_a_bad_command_gets_an_error_reply_and_changes_nothing(
    commands: BuildingCommands, line: str, message: str
) -> None:
    reply = await commands.handle(line)

    assert reply.startswith(message)
    for device in (1000, 1001):
        assert parse_reply(await commands.handle(f"status {device}"))["state"] == "answering"
    with pytest.raises(CommandError, match=message.removeprefix("error ")):
        parse_reply(reply)
