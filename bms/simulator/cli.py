"""`python -m bms.simulator`: run a simulated building until Ctrl-C or SIGTERM.

Prints one line per device, then "ready: ...", then runs. With --processes K the devices are
split into K contiguous slices, each run by a child `python -m bms.simulator` that this process
supervises (see processes.py). `--control PATH` takes commands (silence, restore, restart, set,
status; see commands.py) on a Unix socket; `--flaky PERIOD:SILENT` silences some devices on a
schedule.

`--from-ede FILE` (with `--ede-states FILE`) simulates the devices an EDE export describes
instead of generated AHUs (clone.py, clone_ede.py); `manage.py bacnet_simulate --from-site SITE`
does the same from a site's database; `--from-clone FILE` runs a description saved with
`--save-clone FILE` (which writes it and exits). The devices then keep their own instances, so
--devices, --objects, --first-instance and the quirk indexes do not apply.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from bms.bacnet.config import DEFAULT_PORT
from bms.bacnet.errors import BACnetError
from bms.simulator.building import SimulatedBuilding
from bms.simulator.clone import ClonedDevice
from bms.simulator.clone_ede import load_ede
from bms.simulator.clone_file import load_clone, save_clone
from bms.simulator.commands import BuildingCommands
from bms.simulator.control import ControlServer
from bms.simulator.faults import FlakySchedule, flaky_indexes
from bms.simulator.plan import DEFAULT_NO_RPM_INDEX, DEFAULT_NO_SEGMENTATION_INDEX
from bms.simulator.processes import run_processes
from bms.simulator.shutdown import EXIT_BAD_SETUP, EXIT_OK, install_stop_signals, watch_parent

SOCKETS_PER_DEVICE = 2  # its own address and the shared broadcast address
SPARE_FILES = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bms.simulator",
        description="A simulated building of BACnet/IP devices on consecutive loopback addresses.",
    )
    parser.add_argument("--devices", type=int, default=10, help="number of devices (10)")
    parser.add_argument("--objects", type=int, default=100, help="objects per device (100)")
    parser.add_argument("--first-address", default="127.0.0.2", help="first device's host")
    parser.add_argument("--first-instance", type=int, default=1000, help="first device instance")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="UDP port of every device")
    parser.add_argument("--prefix", type=int, default=8, help="network prefix length (8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for values")
    parser.add_argument("--change-interval", type=float, default=2.0, help="seconds per step")
    parser.add_argument(
        "--no-segmentation-index",
        type=_optional_index,
        default=DEFAULT_NO_SEGMENTATION_INDEX,
        help="0-based index of the device that cannot segment, or 'none' (1)",
    )
    parser.add_argument(
        "--no-rpm-index",
        type=_optional_index,
        default=DEFAULT_NO_RPM_INDEX,
        help="0-based index of the device without ReadPropertyMultiple, or 'none' (2)",
    )
    parser.add_argument(
        "--bbmd",
        action="store_true",
        help="the first device is also its subnet's BBMD and accepts foreign devices (a BMS "
        "worker on another subnet registers with it: BACNET_FOREIGN_BBMD)",
    )
    parser.add_argument(
        "--control",
        metavar="PATH",
        help="take commands on a Unix socket at PATH: silence/restore/restart/status DEVICE, "
        "set DEVICE OBJECT VALUE (python -m bms.simulator.control PATH COMMAND)",
    )
    parser.add_argument(
        "--flaky",
        type=FlakySchedule.parse,
        metavar="PERIOD:SILENT",
        help="the --flaky-index devices are silent for SILENT seconds of every PERIOD",
    )
    parser.add_argument(
        "--flaky-index",
        type=_index_list,
        help="0-based indexes of the flaky devices, e.g. 3 or 3,5 (the last device)",
    )
    described = parser.add_mutually_exclusive_group()
    described.add_argument(
        "--from-ede",
        type=Path,
        metavar="FILE",
        help="simulate the devices of this EDE main file (their instances, objects, names, "
        "units, state texts) instead of generated AHUs",
    )
    described.add_argument(
        "--from-clone",
        type=Path,
        metavar="FILE",
        help="simulate the devices of a description written by --save-clone",
    )
    parser.add_argument(
        "--save-clone",
        type=Path,
        metavar="FILE",
        help="write the described devices (--from-ede, --from-clone, --from-site) to FILE as "
        "JSON for --from-clone, and exit",
    )
    parser.add_argument(
        "--ede-states",
        type=Path,
        metavar="FILE",
        help="the EDE state-text file that --from-ede's state-text references point into",
    )
    parser.add_argument("--processes", type=int, default=1, help="child processes to use (1)")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow addresses outside 127.0.0.0/8 (never needed for tests or benchmarks)",
    )
    # Set by a parent for its children: stop when the parent's end of stdin closes.
    parser.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    return parser


def _optional_index(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    return int(text)


def _index_list(text: str) -> tuple[int, ...]:
    indexes = tuple(int(part) for part in text.split(","))
    if any(index < 0 for index in indexes):
        raise ValueError(f"indexes are >= 0: {text}")
    return indexes


def main(argv: Sequence[str] | None = None, clone: Sequence[ClonedDevice] | None = None) -> int:
    """Run the building the options describe, or the `clone` given (bacnet_simulate
    --from-site); the exit code."""
    args = build_parser().parse_args(argv)
    if args.processes < 1:
        print("error: --processes must be >= 1", file=sys.stderr)
        return EXIT_BAD_SETUP
    if args.ede_states and not args.from_ede:
        print("error: --ede-states goes with --from-ede", file=sys.stderr)
        return EXIT_BAD_SETUP
    try:
        clone = described_devices(args, clone)
        if args.save_clone:
            return save_description(args.save_clone, clone)
        if clone is not None:  # the children's flaky devices are counted among these
            args.devices = len(clone)
        if args.processes > 1:
            return asyncio.run(run_processes(args, clone))
        return asyncio.run(run_building(args, clone))
    except (BACnetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETUP


def described_devices(
    args: argparse.Namespace, given: Sequence[ClonedDevice] | None
) -> Sequence[ClonedDevice] | None:
    """The devices to simulate instead of generated ones, if any."""
    if args.from_ede:
        return load_ede(args.from_ede, args.ede_states)
    if args.from_clone:
        return load_clone(args.from_clone)
    return given


def save_description(path: Path, clone: Sequence[ClonedDevice] | None) -> int:
    if clone is None:
        raise ValueError("--save-clone needs devices to save: --from-ede, --from-clone or a site")
    save_clone(path, clone)
    points = sum(len(device.points) for device in clone)
    print(f"saved {len(clone)} devices ({points} points) to {path}", flush=True)
    return EXIT_OK


def building_from_args(
    args: argparse.Namespace, clone: Sequence[ClonedDevice] | None = None
) -> SimulatedBuilding:
    if clone is not None:
        return SimulatedBuilding.from_clone(
            clone,
            first_address=args.first_address,
            port=args.port,
            prefix=args.prefix,
            seed=args.seed,
            change_interval=args.change_interval,
            allow_non_loopback=args.allow_non_loopback,
            flaky=args.flaky,
            flaky_indexes=flaky_indexes(args.flaky_index, len(clone)) if args.flaky else (),
        )
    return SimulatedBuilding(
        devices=args.devices,
        objects=args.objects,
        first_address=args.first_address,
        first_instance=args.first_instance,
        port=args.port,
        prefix=args.prefix,
        seed=args.seed,
        change_interval=args.change_interval,
        no_segmentation_index=args.no_segmentation_index,
        no_rpm_index=args.no_rpm_index,
        allow_non_loopback=args.allow_non_loopback,
        bbmd=args.bbmd,
        flaky=args.flaky,
        flaky_indexes=flaky_indexes(args.flaky_index, args.devices) if args.flaky else (),
    )


async def run_building(
    args: argparse.Namespace, clone: Sequence[ClonedDevice] | None = None
) -> int:
    """Run one building in this process until a stop signal; 0 after a clean stop."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    watcher = await watch_parent(stop) if args.exit_with_parent else None
    building = building_from_args(args, clone)
    control = (
        ControlServer(args.control, BuildingCommands(building).handle) if args.control else None
    )
    devices = len(clone) if clone is not None else args.devices
    raise_file_limit(SOCKETS_PER_DEVICE * devices + SPARE_FILES)
    try:
        await building.start()
        if control is not None:
            await control.start()
        # A dedicated process: keep the collector from rescanning ~100 objects per device
        # (a full collection over 250 devices pauses every device for ~0.3 s).
        gc.freeze()
        for device in building.devices:
            print(device.describe(), flush=True)
        print(f"ready: {len(building.devices)} devices on port {args.port}", flush=True)
        await building.serve(stop)
    finally:
        if control is not None:
            await control.close()
        await building.stop()
        if watcher is not None:
            watcher.close()
    return EXIT_OK


def raise_file_limit(needed: int) -> None:
    """Raise the soft open-files limit towards the hard one when the devices need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise ValueError(
            f"{needed} open files are needed but the hard limit is {hard}; "
            "use --processes to spread the devices"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
