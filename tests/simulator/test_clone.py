"""A building described from outside (bms.simulator.clone): the description's rules, replay,
and a clone of a simulated building read by our own client over real UDP on loopback."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import Capabilities, ObjectRef, PointInfo
from bms.simulator import SimulatedBuilding
from bms.simulator.cli import build_parser
from bms.simulator.clone import (
    ClonedDevice,
    ClonedPoint,
    ClonedTrendLog,
    CloneError,
    Replay,
    check_building,
    nearest_max_apdu,
    plan_clone,
    replay_values,
)
from bms.simulator.clone_file import clone_from_json, load_clone, save_clone
from bms.simulator.processes import split_devices

AI = "analog-input"


def point(**fields: Any) -> ClonedPoint:
    return ClonedPoint(
        **({"object_type": AI, "instance": 1, "name": "Zone 1 Temperature"} | fields)
    )


# ---- the description (pure)


def test_a_replay_steps_through_the_values_in_order_and_loops() -> None:
    replay = Replay((20.0, 21.0, 22.5))
    rng = random.Random(0)

    steps = [replay.next(0.0, rng) for _ in range(7)]

    # The object starts at the first value; each step moves one on.
    assert steps == [21.0, 22.5, 20.0, 21.0, 22.5, 20.0, 21.0]


def test_an_input_starts_at_its_oldest_value_and_replays() -> None:
    sensor = point(values=(18.0, 19.0, 20.0))

    assert (sensor.start_value, sensor.replayed) == (18.0, True)


def test_a_commandable_point_starts_at_its_last_value_and_is_not_replayed() -> None:
    setpoint = point(object_type="analog-value", commandable=True, values=(20.0, 21.0, 22.0))

    assert (setpoint.start_value, setpoint.replayed) == (22.0, False)


@pytest.mark.parametrize(
    ("object_type", "default"),
    [(AI, 0.0), ("binary-output", "inactive"), ("multi-state-value", 1)],
)
def test_a_point_without_values_starts_at_its_types_default(
    object_type: str, default: object
) -> None:
    assert point(object_type=object_type).start_value == default


def test_stored_values_become_what_the_object_holds_and_the_rest_is_left_out() -> None:
    assert replay_values(AI, [None, 20, "21.5", "warm", True, 22.25]) == (20.0, 21.5, 22.25)
    assert replay_values("binary-input", ["active", None, "inactive", 1, "maybe"]) == (
        "active",
        "inactive",
        "active",
    )
    texts = ("Occupied", "Unoccupied", "Standby")
    assert replay_values("multi-state-value", [1, 3, 4, "Standby", 0], texts) == (1, 3, 3)


def test_a_multi_state_point_without_texts_has_as_many_states_as_its_values_need() -> None:
    mode = point(object_type="multi-state-input", values=(1, 4, 2))

    assert mode.number_of_states == 4
    assert point(object_type="multi-state-input", state_texts=("A", "B")).number_of_states == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"object_type": "trend-log"}, "not a point type"),
        ({"instance": 4194303}, "outside"),
        ({"name": ""}, "no name"),
        ({"object_type": "binary-input", "state_texts": ("Off",)}, "2 state texts"),
        ({"values": (20.0, "warm")}, "cannot hold the value 'warm'"),
        ({"cov_increment": -1.0}, "cov increment"),
        ({"object_type": "binary-input", "cov_increment": 1.0}, "cov increment"),
        ({"values": (float("nan"),)}, "cannot hold"),
        ({"object_type": "binary-value", "values": ("on",)}, "cannot hold"),
        ({"object_type": "multi-state-input", "state_texts": ("A",), "values": (2,)}, "hold"),
    ],
)
def test_a_point_the_simulator_cannot_serve_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(CloneError, match=message):
        point(**fields)


def test_a_device_is_refused_with_an_object_twice_or_unknown_quirks() -> None:
    with pytest.raises(CloneError, match="twice"):
        ClonedDevice(1, "AHU", points=(point(), point(name="other")))
    with pytest.raises(CloneError, match="segmentation"):
        ClonedDevice(1, "AHU", segmentation="sometimes")
    with pytest.raises(CloneError, match="max APDU"):
        ClonedDevice(1, "AHU", max_apdu=600)
    with pytest.raises(CloneError, match="described twice"):
        check_building([ClonedDevice(1, "A"), ClonedDevice(1, "B")])
    with pytest.raises(CloneError, match="no devices"):
        check_building([])


def test_a_trend_log_must_log_an_analog_point_of_its_device() -> None:
    logged = ClonedTrendLog(1, "SAT_Log", AI, 1)
    assert ClonedDevice(1, "AHU", points=(point(),), trend_logs=(logged,)).trend_logs == (logged,)
    with pytest.raises(CloneError, match="not one of its points"):
        ClonedDevice(1, "AHU", points=(point(),), trend_logs=(ClonedTrendLog(1, "L", AI, 2),))
    with pytest.raises(CloneError, match="trend-log 1 twice"):
        ClonedDevice(1, "AHU", points=(point(),), trend_logs=(logged, logged))
    with pytest.raises(CloneError, match="analog points only"):
        ClonedTrendLog(1, "Fan_Log", "binary-input", 1)


def test_a_stored_max_apdu_becomes_the_standard_size_not_above_it() -> None:
    assert [nearest_max_apdu(n) for n in (None, 0, 1476, 1400, 480, 49, 2000)] == [
        1476,
        1476,
        1476,
        1024,
        480,
        50,
        1476,
    ]


def test_cloned_devices_keep_their_instances_on_consecutive_loopback_hosts() -> None:
    devices = [
        ClonedDevice(2001, "B", segmentation="no-segmentation", max_apdu=480),
        ClonedDevice(77, "A", supports_rpm=False),
    ]

    plans = plan_clone(devices, first_address="127.0.0.2", port=47900)

    assert [(p.instance, p.address, p.name) for p in plans] == [
        (77, "127.0.0.2:47900", "A"),
        (2001, "127.0.0.3:47900", "B"),
    ]
    assert [(p.supports_rpm, p.segmentation, p.max_apdu) for p in plans] == [
        (False, "segmented-both", 1476),
        (True, "no-segmentation", 480),
    ]


# ---- a simulated building cloned, read by our client over UDP


@dataclass(frozen=True)
class Scan:
    """What our client saw of one device."""

    points: list[PointInfo]
    capabilities: Capabilities


async def scan(port: int, building: SimulatedBuilding) -> dict[int, Scan]:
    """Read every device's points with a fresh client (so it learns the fallbacks anew)."""
    config = EngineConfig(address=f"127.0.0.1/8:{port}", device_instance=9999, timeout=2.0)
    app = await open_application(config)
    try:
        client = Client(app, config)
        scans = {}
        for device in building.devices:
            info = await client.read_device_info(device.address, device.instance)
            points = await client.read_points(device.address, device.instance)
            scans[device.instance] = Scan(points, client.capabilities.get(info.address))
        return scans
    finally:
        close_application(app)


def described(instance: int, seen: Scan) -> ClonedDevice:
    """The description a scan gives (as bms.worker.site_clone does from the database)."""
    caps = seen.capabilities
    return ClonedDevice(
        instance=instance,
        name=f"Clone of {instance}",
        segmentation="no-segmentation" if caps.segmentation is False else "segmented-both",
        supports_rpm=caps.rpm is not False,
        max_apdu=nearest_max_apdu(caps.max_apdu),
        points=tuple(
            ClonedPoint(
                object_type=info.ref.object_type,
                instance=info.ref.instance,
                name=info.name,
                description=info.description,
                units=info.units or "",
                state_texts=info.state_texts,
                commandable=info.commandable,
                values=replay_values(info.ref.object_type, [info.present_value], info.state_texts),
            )
            for info in seen.points
        ),
    )


@pytest.fixture
async def original(bacnet_port: int) -> AsyncIterator[dict[int, Scan]]:
    # 100 objects: the no-segmentation device's object list does not fit in its 480 octets.
    async with SimulatedBuilding(devices=4, objects=100, port=bacnet_port) as building:
        yield await scan(bacnet_port, building)


async def test_a_clone_reads_back_as_the_original_did_with_the_same_fallbacks(
    original: dict[int, Scan], bacnet_port: int
) -> None:
    clone = [described(instance, seen) for instance, seen in original.items()]

    # Beside the original (still running), on hosts of its own.
    async with SimulatedBuilding.from_clone(
        clone, first_address="127.0.0.20", port=bacnet_port
    ) as building:
        cloned = await scan(bacnet_port, building)

    assert sorted(cloned) == sorted(original)
    for instance, seen in original.items():
        assert without_values(cloned[instance].points) == without_values(seen.points), instance
        assert cloned[instance].capabilities == seen.capabilities, instance
    # The simulated building's quirks were met, and met again on the clone.
    assert original[1001].capabilities.segmentation is False
    assert original[1002].capabilities.rpm is False


def without_values(points: list[PointInfo]) -> list[PointInfo]:
    return [replace(info, present_value=None, status_flags=None) for info in points]


async def test_a_clone_replays_recorded_values_and_leaves_commanded_ones(
    bacnet_port: int,
) -> None:
    sensor = point(values=(20.0, 21.0, 22.0), cov_increment=0.5)
    setpoint = point(object_type="analog-value", name="Setpoint", commandable=True, values=(5.0,))
    device = ClonedDevice(4242, "Replayer", points=(sensor, setpoint))

    async with SimulatedBuilding.from_clone([device], port=bacnet_port) as building:
        seen = []
        for _ in range(4):
            seen.append(read_value(building, 4242, sensor.ref))
            building.change_values()
        assert read_value(building, 4242, setpoint.ref) == 5.0
        served = building.device(4242).app.get_object_id(ObjectIdentifier((AI, 1)))
        assert served.covIncrement == 0.5  # the original's, not the generated 0.1

    assert seen == [20.0, 21.0, 22.0, 20.0]


async def test_a_cloned_trend_log_records_its_point(bacnet_port: int) -> None:
    sensor = point(values=(20.0, 21.0))
    log = ClonedTrendLog(5, "Zone_Log", AI, 1)
    device = ClonedDevice(4243, "Logger", points=(sensor,), trend_logs=(log,))

    async with SimulatedBuilding.from_clone(
        [device], port=bacnet_port, trend_interval=3600
    ) as building:
        building.log_trends()
        building.change_values()
        building.log_trends()
        app = building.device(4243).app
        served = app.get_object_id(ObjectIdentifier(("trend-log", 5)))
        records = await building.trend_records.fetch(ObjectRef("trend-log", 5), 1, 10)

    assert str(served.objectName) == "Zone_Log"
    assert [record.value for record in records] == [20.0, 21.0]


def read_value(building: SimulatedBuilding, instance: int, ref: ObjectRef) -> Any:
    app = building.device(instance).app
    return float(app.get_object_id(ObjectIdentifier((ref.object_type, ref.instance))).presentValue)


# ---- the description as a file (clone_file.py)


def test_a_description_reads_back_from_its_file_as_it_was(tmp_path: Path) -> None:
    devices = (
        ClonedDevice(
            7,
            "AHU",
            points=(
                point(values=(20.0, 21.5)),
                point(object_type="multi-state-value", instance=2, state_texts=("A", "B")),
            ),
            segmentation="no-segmentation",
            max_apdu=480,
            vendor_id=5,
            trend_logs=(ClonedTrendLog(3, "Zone_Log", AI, 1),),
        ),
        ClonedDevice(8, "VAV", supports_rpm=False),
    )

    save_clone(tmp_path / "site.json", devices)

    assert load_clone(tmp_path / "site.json") == devices


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "JSON"),
        ('{"devices": []}', "format"),
        ('{"format": "bms-simulator-clone/1", "devices": {}}', "'devices'"),
        ('{"format": "bms-simulator-clone/1", "devices": [3]}', "malformed"),
        ('{"format": "bms-simulator-clone/1", "devices": [{"instance": 1}]}', "malformed"),
        (
            '{"format": "bms-simulator-clone/1", "devices": [{"instance": 1, "name": "A", '
            '"points": [{"object_type": "calendar", "instance": 1, "name": "C"}]}]}',
            "not a point type",
        ),
    ],
)
def test_a_malformed_description_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(CloneError, match=message):
        clone_from_json(text)


def test_over_processes_each_child_runs_its_share_of_the_clone(tmp_path: Path) -> None:
    plans = plan_clone([ClonedDevice(instance, f"D{instance}") for instance in (30, 10, 20)])
    args = build_parser().parse_args(["--processes", "2", "--flaky", "10:2"])
    args.devices = len(plans)  # as main() sets it for a clone

    first, second = split_devices(plans, 2)
    argv = second.child_argv(args, seed=0, number=1, described=tmp_path / "clone-1.json")

    assert [plan.instance for plan in first.plans] == [10, 20]
    assert argv[argv.index("--from-clone") + 1] == str(tmp_path / "clone-1.json")
    assert argv[argv.index("--first-address") + 1] == "127.0.0.4"
    assert argv[argv.index("--flaky-index") + 1] == "0"  # the last device is the flaky one
    assert "--devices" not in argv
