"""`--from-ede`: the devices of an EDE export simulated (clone_ede.py, the CLI over real UDP)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig
from bms.bacnet.ede import EdeError, EdeObject, parse_ede
from bms.bacnet.ede_write import write_ede
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef, PointInfo
from bms.simulator.clone import ClonedPoint
from bms.simulator.clone_ede import clone_from_ede, load_ede
from bms.simulator.shutdown import EXIT_BAD_SETUP
from tests.simulator.test_cli import cli

OBJECTS = [
    EdeObject(1001, "AHU1", "device", 1001, description="Air handling unit"),
    EdeObject(
        1001,
        "Supply_Air_Temperature",
        "analog-input",
        1,
        description="Supply air; after the coil",
        present_value_default="14",
        units="degrees-celsius",
    ),
    EdeObject(
        1001,
        "Fan",
        "binary-output",
        1,
        present_value_default="inactive",
        commandable=True,
        state_texts=("Off", "On"),
    ),
    EdeObject(1001, "SAT_Log", "trend-log", 1),  # not a point: left out
    EdeObject(
        1002,
        "Mode",
        "multi-state-value",
        7,
        present_value_default="2",
        commandable=True,
        state_texts=("Off", "Heating", "Cooling"),
    ),
]


def ede_files(folder: Path, objects: list[EdeObject] = OBJECTS) -> tuple[Path, Path]:
    main, texts = write_ede(objects, "Clone test")
    (folder / "site.csv").write_text(main)
    (folder / "site-states.csv").write_text(texts)
    return folder / "site.csv", folder / "site-states.csv"


def test_every_device_of_the_file_becomes_a_device_with_its_points(tmp_path: Path) -> None:
    ahu, other = load_ede(*ede_files(tmp_path))

    assert (ahu.instance, ahu.name, ahu.description) == (1001, "AHU1", "Air handling unit")
    assert ahu.points == (
        ClonedPoint(
            "analog-input",
            1,
            "Supply_Air_Temperature",
            "Supply air; after the coil",
            "degrees-celsius",
            values=(14.0,),
        ),
        ClonedPoint(
            "binary-output",
            1,
            "Fan",
            state_texts=("Off", "On"),
            commandable=True,
            values=("inactive",),
        ),
    )
    # No device row: a name of its instance; well-behaved quirks (EDE does not say).
    assert (other.instance, other.name, other.supports_rpm, other.segmentation) == (
        1002,
        "Device 1002",
        True,
        "segmented-both",
    )
    assert other.points[0].start_value == 2


def test_a_row_the_simulator_cannot_serve_is_refused_with_its_line(tmp_path: Path) -> None:
    odd = EdeObject(1001, "Alarm", "binary-input", 4, state_texts=("Normal", "Alarm", "Fault"))
    main, texts = ede_files(tmp_path, [*OBJECTS, odd])

    with pytest.raises(EdeError) as refused:
        clone_from_ede(parse_ede(main.read_bytes(), texts.read_bytes()))

    assert "2 state texts" in str(refused.value)
    assert refused.value.line > 0


async def test_the_cli_serves_the_files_devices_over_udp(tmp_path: Path, bacnet_port: int) -> None:
    main, texts = ede_files(tmp_path)
    args = ("--from-ede", str(main), "--ede-states", str(texts), "--port", str(bacnet_port))
    async with cli(*args) as running:
        await running.wait_ready()
        points, modes = await read_points(bacnet_port, [("127.0.0.2", 1001), ("127.0.0.3", 1002)])
        assert await running.stop(signal.SIGTERM) == 0

    assert [line.split()[:3] for line in running.device_lines()] == [
        ["device", "1001", f"127.0.0.2:{bacnet_port}"],
        ["device", "1002", f"127.0.0.3:{bacnet_port}"],
    ]
    by_ref = {point.ref: point for point in points}
    assert set(by_ref) == {ObjectRef("analog-input", 1), ObjectRef("binary-output", 1)}
    sat = by_ref[ObjectRef("analog-input", 1)]
    assert (sat.name, sat.units, sat.present_value) == (
        "Supply_Air_Temperature",
        "degrees-celsius",
        14.0,
    )
    fan = by_ref[ObjectRef("binary-output", 1)]
    assert (fan.state_texts, fan.commandable) == (("Off", "On"), True)
    (mode,) = modes
    assert (mode.state_texts, mode.present_value) == (("Off", "Heating", "Cooling"), 2)


async def test_the_cli_refuses_a_bad_file_naming_its_line(tmp_path: Path, bacnet_port: int) -> None:
    main = tmp_path / "bad.csv"
    main.write_text("PROJECT_NAME,x\n# keyname,device obj.-instance,object-name\n")
    async with cli("--from-ede", str(main), "--port", str(bacnet_port)) as running:
        code = await running.process.wait()
        assert running.process.stderr is not None
        error = (await running.process.stderr.read()).decode()

    assert code == EXIT_BAD_SETUP
    assert "error: line 2: columns are separated by ','" in error


async def read_points(port: int, devices: list[tuple[str, int]]) -> list[list[PointInfo]]:
    config = EngineConfig(address=f"127.0.0.1/8:{port}", device_instance=9998, timeout=2.0)
    app = await open_application(config)
    try:
        client = Client(app, config)
        return [await client.read_points(f"{host}:{port}", instance) for host, instance in devices]
    finally:
        close_application(app)


async def test_a_saved_description_runs_over_processes(tmp_path: Path, bacnet_port: int) -> None:
    main, texts = ede_files(tmp_path)
    saved = tmp_path / "site.json"
    async with cli(
        "--from-ede", str(main), "--ede-states", str(texts), "--save-clone", str(saved)
    ) as running:
        assert await running.process.wait() == 0
        assert running.process.stdout is not None
        said = (await running.process.stdout.read()).decode()
    assert said == f"saved 2 devices (3 points) to {saved}\n"

    args = ("--from-clone", str(saved), "--processes", "2", "--port", str(bacnet_port))
    async with cli(*args) as running:
        await running.wait_ready()
        points, modes = await read_points(bacnet_port, [("127.0.0.2", 1001), ("127.0.0.3", 1002)])
        assert await running.stop(signal.SIGTERM) == 0

    assert running.lines[-1] == "ready: 2 devices in 2 processes"
    assert sorted(line.split()[1] for line in running.device_lines()) == ["1001", "1002"]
    assert [len(points), len(modes)] == [2, 1]
