"""BAC0's read loops over simulated devices: run by the Python of a separate BAC0 venv.

    <bac0-venv>/bin/python bench/_bac0_reader.py --address 127.0.0.250/8 --port Q \
        --targets-json FILE --seconds 20

FILE holds {"devices": ["127.0.0.2:P", ...], "objects": [["analog-input", 1], ...]}. BAC0
ships its own (newer) bacpypes3, whose IPv4 layer drops packets to other 127.x hosts on its own
port, so this client binds a port of its own. Three loops, each bounded by --seconds and one pass
over every point:
- `read_loop`: the read loop as a BAC0 script writes it, `for point in points: await
  bacnet.read(...)`, one ReadProperty per property, one after the other (the target's baseline);
- `read`: the same reads with every device's loop running concurrently (a generous variant);
- `readMultiple`: 24 objects per request, devices concurrently (BAC0's fastest way to poll).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bacpypes3.apdu import ErrorRejectAbortNack  # BAC0's own bacpypes3

PROPERTIES = ("presentValue", "statusFlags")
OBJECTS_PER_RPM = 24


def camel(kind: str) -> str:
    first, *rest = kind.split("-")
    return first + "".join(part.capitalize() for part in rest)


class Counts:
    def __init__(self) -> None:
        self.properties = 0
        self.errors = 0
        self.first_errors: list[str] = []

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(repr(exc))


async def guarded(counts: Counts, call: Any) -> Any:
    # BAC0 raises its own exceptions and bacpypes3's (BaseException) ones; count both.
    try:
        return await call
    except (Exception, ErrorRejectAbortNack) as exc:
        counts.error(exc)
    return None


async def read_loop(
    bacnet: Any, device: str, objects: list[Any], counts: Counts, deadline: float
) -> None:
    for kind, instance in objects:
        for prop in PROPERTIES:
            if time.monotonic() >= deadline:
                return
            value = await guarded(counts, bacnet.read(f"{device} {camel(kind)} {instance} {prop}"))
            if value is not None:
                counts.properties += 1


async def rpm_loop(
    bacnet: Any, device: str, objects: list[Any], counts: Counts, deadline: float
) -> None:
    for start in range(0, len(objects), OBJECTS_PER_RPM):
        if time.monotonic() >= deadline:
            return
        parts = [device]
        for kind, instance in objects[start : start + OBJECTS_PER_RPM]:
            parts += [f"{camel(kind)}:{instance}", *PROPERTIES]  # BAC0's RPM syntax
        values = await guarded(counts, bacnet.readMultiple(" ".join(parts)))
        if values is not None:
            counts.properties += len(values)


async def sequential_read_loop(
    bacnet: Any, devices: list[str], objects: list[Any], counts: Counts, deadline: float
) -> None:
    for device in devices:
        await read_loop(bacnet, device, objects, counts, deadline)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import BAC0

    BAC0.log_level("error")
    targets = json.loads(Path(args.targets_json).read_text())
    devices, objects = targets["devices"], targets["objects"]
    host, _, prefix = args.address.partition("/")
    out: dict[str, Any] = {"bac0_version": BAC0.version}
    async with BAC0.start(ip=f"{host}/{prefix}", port=args.port, ping=False) as bacnet:
        for name, loop in (("read_loop", None), ("read", read_loop), ("readMultiple", rpm_loop)):
            counts = Counts()
            started = time.monotonic()
            deadline = started + args.seconds
            if loop is None:
                await sequential_read_loop(bacnet, devices, objects, counts, deadline)
            else:
                await asyncio.gather(
                    *(
                        asyncio.create_task(loop(bacnet, d, objects, counts, deadline), name=d)
                        for d in devices
                    )
                )
            seconds = time.monotonic() - started
            out[name] = {
                "properties": counts.properties,
                "errors": counts.errors,
                "first_errors": counts.first_errors,
                "seconds": round(seconds, 3),
                "points_per_s": round(counts.properties / len(PROPERTIES) / seconds, 1),
            }
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True, help="host/prefix, loopback")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--targets-json", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    # BAC0 loads a .env from the working directory: give it an empty one.
    os.chdir(tempfile.mkdtemp(prefix="bac0-"))
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
