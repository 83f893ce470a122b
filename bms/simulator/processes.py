"""Spread a building over K child processes (`--processes K`) and supervise them.

Each child is `python -m bms.simulator` with a contiguous slice of the devices: its first address
and first instance are those of the slice in the whole building's plan, and a quirk index moves
with its device. The parent relays the children's device lines, prints one "ready: ..." line when
every child is ready, and stops all of them (SIGTERM, then SIGKILL after a grace period) on
Ctrl-C / SIGTERM or as soon as one child exits on its own. Children also stop when the parent's
end of their stdin closes, so a killed parent does not leave devices behind. With `--control
PATH`, child N listens on PATH.N and the parent forwards each command to its device's child.
A cloned building (clone.py) is split the same way: each child gets its devices' description in
a file of the parent's temporary folder (`--from-clone`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms.simulator.clone import ClonedDevice, plan_clone
from bms.simulator.clone_file import save_clone
from bms.simulator.control import ControlServer, Forwarder, child_path
from bms.simulator.faults import flaky_indexes
from bms.simulator.plan import DevicePlan, plan_building
from bms.simulator.shutdown import EXIT_FAILED, EXIT_OK, install_stop_signals

STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Slice:
    """The devices one child runs."""

    plans: tuple[DevicePlan, ...]

    def child_argv(
        self, args: argparse.Namespace, seed: int, number: int = 0, described: Path | None = None
    ) -> list[str]:
        """The child's command line; `described`: its devices' description, for a clone."""
        first = self.plans[0]
        argv = [
            sys.executable, "-m", "bms.simulator",
            "--first-address", first.host,
            "--port", str(args.port),
            "--prefix", str(args.prefix),
            "--seed", str(seed),
            "--change-interval", str(args.change_interval),
            "--exit-with-parent",
        ]  # fmt: skip
        argv += self._generated(args) if described is None else ["--from-clone", str(described)]
        if args.allow_non_loopback:
            argv.append("--allow-non-loopback")
        if args.bbmd and first.bbmd:  # the building's first device is its BBMD
            argv.append("--bbmd")
        if args.control:
            argv += ["--control", child_path(args.control, number)]
        flaky = self._local_indexes(args)
        if args.flaky is not None and flaky:
            argv += ["--flaky", f"{args.flaky.period}:{args.flaky.silent}"]
            argv += ["--flaky-index", ",".join(map(str, flaky))]
        return argv

    def _generated(self, args: argparse.Namespace) -> list[str]:
        return [
            "--devices", str(len(self.plans)),
            "--objects", str(args.objects),
            "--first-instance", str(self.plans[0].instance),
            "--no-segmentation-index", self._local_index(args.no_segmentation_index),
            "--no-rpm-index", self._local_index(args.no_rpm_index),
        ]  # fmt: skip

    @property
    def instances(self) -> range:
        return range(self.plans[0].instance, self.plans[-1].instance + 1)

    def _local_indexes(self, args: argparse.Namespace) -> list[int]:
        if args.flaky is None:
            return []
        wanted = flaky_indexes(args.flaky_index, args.devices)
        start = self.plans[0].index
        return [index - start for index in wanted if start <= index < start + len(self.plans)]

    def _local_index(self, index: int | None) -> str:
        start = self.plans[0].index
        if index is None or not start <= index < start + len(self.plans):
            return "none"
        return str(index - start)


def split_devices(plans: list[DevicePlan], processes: int) -> list[Slice]:
    """Contiguous slices as even as possible; never an empty one."""
    count = min(processes, len(plans))
    size, extra = divmod(len(plans), count) if count else (0, 0)
    slices, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        slices.append(Slice(tuple(plans[start:end])))
        start = end
    return slices


@dataclass
class Child:
    number: int
    process: asyncio.subprocess.Process
    relay: asyncio.Task[None]
    exit: asyncio.Task[int]
    ready: asyncio.Event

    @property
    def failed(self) -> bool:
        return self.process.returncode not in (None, 0)


async def run_processes(
    args: argparse.Namespace, clone: Sequence[ClonedDevice] | None = None
) -> int:
    """Run the building (or the `clone`) in child processes until a stop signal or a child's
    death."""
    plans = _plans(args, clone)
    stop = asyncio.Event()
    install_stop_signals(stop)
    children: list[Child] = []
    slices = split_devices(plans, args.processes)
    forwarder = Forwarder(
        [(part.instances, child_path(args.control, n)) for n, part in enumerate(slices)]
        if args.control
        else []
    )
    control = ControlServer(args.control, forwarder.handle) if args.control else None
    try:
        with tempfile.TemporaryDirectory(prefix="bms-simulator-") as folder:
            for number, part in enumerate(slices):
                described = _describe_slice(Path(folder), number, part, clone)
                argv = part.child_argv(args, args.seed + number, number, described)
                children.append(await _spawn(number, argv))
            await _supervise(children, stop, len(plans), control)
    finally:
        if control is not None:
            await control.close()
        await forwarder.close()
        await _stop_children(children)
    return _exit_code(children)


def _plans(args: argparse.Namespace, clone: Sequence[ClonedDevice] | None) -> list[DevicePlan]:
    if clone is not None:
        return plan_clone(
            clone,
            first_address=args.first_address,
            port=args.port,
            prefix=args.prefix,
            allow_non_loopback=args.allow_non_loopback,
        )
    return plan_building(
        args.devices,
        first_address=args.first_address,
        first_instance=args.first_instance,
        port=args.port,
        prefix=args.prefix,
        no_segmentation_index=args.no_segmentation_index,
        no_rpm_index=args.no_rpm_index,
        allow_non_loopback=args.allow_non_loopback,
        bbmd=args.bbmd,
    )


def _describe_slice(
    folder: Path, number: int, part: Slice, clone: Sequence[ClonedDevice] | None
) -> Path | None:
    """The file describing the slice's cloned devices (None for a generated building)."""
    if clone is None:
        return None
    wanted = {plan.instance for plan in part.plans}
    path = folder / f"clone-{number}.json"
    save_clone(path, [device for device in clone if device.instance in wanted])
    return path


async def _spawn(number: int, argv: list[str]) -> Child:
    # A session of its own: a terminal's Ctrl-C or a group kill reaches only the parent, which
    # then stops each child exactly once. A second signal during a child's shutdown would land
    # after asyncio removed its handlers and kill it mid-cleanup.
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    ready = asyncio.Event()
    relay = asyncio.create_task(_relay(process, ready), name=f"simulator-child-{number}-relay")
    exit_task = asyncio.create_task(process.wait(), name=f"simulator-child-{number}-exit")
    return Child(number, process, relay, exit_task, ready)


async def _relay(process: asyncio.subprocess.Process, ready: asyncio.Event) -> None:
    """Copy the child's device lines to our stdout; note its ready line (ends at its EOF)."""
    stream = process.stdout
    assert stream is not None
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip("\n")
        if text.startswith("ready:"):
            ready.set()
        else:
            print(text, flush=True)


async def _supervise(
    children: list[Child], stop: asyncio.Event, devices: int, control: ControlServer | None
) -> None:
    """Return on a stop signal or when any child exits (a child exits 0 only when told to)."""
    all_ready: asyncio.Future[Any] = asyncio.gather(*(child.ready.wait() for child in children))
    stopping: asyncio.Future[Any] = asyncio.create_task(stop.wait(), name="simulator-parent-stop")
    ends = {stopping, *(child.exit for child in children)}
    try:
        await asyncio.wait({all_ready, *ends}, return_when=asyncio.FIRST_COMPLETED)
        if all_ready.done() and not any(end.done() for end in ends):
            if control is not None:  # the children's sockets exist once they are ready
                await control.start()
            print(f"ready: {devices} devices in {len(children)} processes", flush=True)
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    finally:
        all_ready.cancel()
        stopping.cancel()


def _exit_code(children: list[Child]) -> int:
    """0 only if every child stopped cleanly."""
    failed = [child for child in children if child.failed]
    for child in failed:
        print(
            f"error: simulator child {child.number} exited with {child.process.returncode}",
            file=sys.stderr,
        )
    return EXIT_FAILED if failed else EXIT_OK


async def _stop_children(children: list[Child]) -> None:
    for child in children:
        if child.process.returncode is None:
            child.process.terminate()
    for child in children:
        await _reap(child)


async def _reap(child: Child) -> None:
    try:
        await asyncio.wait_for(child.process.wait(), STOP_GRACE_SECONDS)
    except TimeoutError:
        print(f"error: simulator child {child.number} ignored SIGTERM; killing it", file=sys.stderr)
        child.process.kill()
        await child.process.wait()
    # The relay ends at the child's EOF; wait for it so no output is lost.
    await asyncio.gather(child.relay, child.exit)
