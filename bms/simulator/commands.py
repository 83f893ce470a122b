"""The simulator's control commands: one line in, one line out (see control.py for the socket).

    silence DEVICE                 the device stops hearing and sending anything
    restore DEVICE                 it answers again (its COV subscriptions kept, as after a cable)
    restart DEVICE [SECONDS]       silent for SECONDS (1), COV subscriptions forgotten, then I-Am
    set DEVICE OBJECT VALUE        e.g. "set 1000 analog-input,3 21.5": the device's own change
    status DEVICE                  answering or silent, and how many COV subscriptions it holds

DEVICE is a device instance; OBJECT is "analog-input,3" or "AI:3"; VALUE is a number for analog
objects, active/inactive (or 1/0) for binary ones, a state number from 1 for multi-state ones.
Replies start with "ok" or "error"; after "ok" come key=value fields.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from bms.bacnet.types import ObjectRef
from bms.simulator.building import SimulatedBuilding
from bms.simulator.faults import DEFAULT_RESTART_SECONDS

MAX_RESTART_SECONDS = 300.0
BINARY_WORDS = {"active": "active", "1": "active", "inactive": "inactive", "0": "inactive"}


class CommandError(ValueError):
    """A command line that cannot be run; the message says why."""


@dataclass(frozen=True)
class Command:
    verb: str
    device: int
    arguments: tuple[str, ...]


USAGE = {
    "silence": (0, 0, "silence DEVICE"),
    "restore": (0, 0, "restore DEVICE"),
    "restart": (0, 1, "restart DEVICE [SECONDS]"),
    "set": (2, 2, "set DEVICE OBJECT VALUE"),
    "status": (0, 0, "status DEVICE"),
}


def parse_command(line: str) -> Command:
    words = line.split()
    if not words:
        raise CommandError("empty command; one of: " + ", ".join(USAGE))
    verb = words[0].lower()
    if verb not in USAGE:
        raise CommandError(f"unknown command {words[0]!r}; one of: " + ", ".join(USAGE))
    least, most, usage = USAGE[verb]
    if len(words) < 2 or not least <= len(words) - 2 <= most:
        raise CommandError(f"usage: {usage}")
    return Command(verb, parse_device(words[1]), tuple(words[2:]))


def parse_device(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"DEVICE is a device instance number, not {text!r}") from None


def parse_object(text: str) -> ObjectRef:
    try:
        return ObjectRef.parse(text)
    except ValueError:
        raise CommandError(f"OBJECT is like analog-input,3 or AI:3, not {text!r}") from None


def parse_value(ref: ObjectRef, text: str) -> float | int | str:
    """The present value `text` stands for, for an object of `ref`'s type."""
    kind = ref.object_type
    if kind.startswith("analog-"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise CommandError(f"{ref} takes a finite number, not {text!r}")
        return number
    if kind.startswith("binary-"):
        if text.lower() not in BINARY_WORDS:
            raise CommandError(f"{ref} takes active or inactive (1 or 0), not {text!r}")
        return BINARY_WORDS[text.lower()]
    if kind.startswith("multi-state-"):
        if not text.isdigit() or int(text) < 1:
            raise CommandError(f"{ref} takes a state number from 1, not {text!r}")
        return int(text)
    raise CommandError(f"set supports analog, binary and multi-state objects, not {kind}")


def parse_seconds(arguments: tuple[str, ...]) -> float:
    if not arguments:
        return DEFAULT_RESTART_SECONDS
    try:
        seconds = float(arguments[0])
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_RESTART_SECONDS:
        raise CommandError(f"SECONDS is from 0 to {MAX_RESTART_SECONDS:g}, not {arguments[0]!r}")
    return seconds


class BuildingCommands:
    """Runs command lines against one building in this process."""

    def __init__(self, building: SimulatedBuilding) -> None:
        self._building = building

    def owns(self, device: int) -> bool:
        return any(d.instance == device for d in self._building.devices)

    async def handle(self, line: str) -> str:
        """The reply to one command line; never raises for what a client can send."""
        try:
            return "ok " + await self._run(parse_command(line))
        except ValueError as exc:  # CommandError, an unknown device or point, a refused value
            return f"error {_one_line(exc)}"

    async def _run(self, command: Command) -> str:
        building, device = self._building, command.device
        if command.verb == "silence":
            building.silence(device)
        elif command.verb == "restore":
            building.restore(device)
        elif command.verb == "restart":
            dropped = await building.restart(device, parse_seconds(command.arguments))
            return f"device={device} state=answering dropped-subscriptions={dropped}"
        elif command.verb == "set":
            return self._set(command)
        return self._status(device)

    def _set(self, command: Command) -> str:
        ref = parse_object(command.arguments[0])
        value = parse_value(ref, command.arguments[1])
        try:
            stored = self._building.set_value(command.device, ref, value)
        except TypeError as exc:  # bacpypes3's cast refused the value
            raise CommandError(f"{ref} refused {command.arguments[1]!r}: {exc}") from exc
        return f"device={command.device} object={ref} value={_word(stored)} at={time.time():.6f}"

    def _status(self, device: int) -> str:
        switch = self._building.switch(device)
        state = "silent" if switch.silent else "answering"
        fields = [
            f"device={device}",
            f"state={state}",
            f"subscriptions={switch.subscriptions()}",
            f"dropped-received={switch.dropped_received}",
            f"dropped-sent={switch.dropped_sent}",
        ]
        if switch.silent_since is not None:
            fields.append(f"silent-since={switch.silent_since:.3f}")
        return " ".join(fields)


def parse_reply(reply: str) -> dict[str, str]:
    """The key=value fields of an "ok" reply; CommandError with its message for an "error"."""
    status, _, rest = reply.partition(" ")
    if status != "ok":
        raise CommandError(rest or reply)
    return dict(field.partition("=")[::2] for field in rest.split())


def _word(value: Any) -> str:
    return str(value).replace(" ", "_")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
