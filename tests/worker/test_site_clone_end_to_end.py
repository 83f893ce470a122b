"""A simulated building cloned from a site: the worker discovers the clone and reads the same
objects, and hits the same fallbacks, as it did on the original (issue 17).

One stack (on SQLite), shared by the module's tests: the simulated building (with its
no-segmentation device 1001 and its no-RPM device 1002), a worker of site "original" that
discovers and collects it, then `manage.py bacnet_simulate --from-site original` on the same
port, and a worker of site "cloned" that discovers and collects the clone into the same
database. The tests compare the two sites' rows and the two workers' logs, and ask the clone
(left running) directly for what the original refused. Between the two, a worker of site
"original" is restarted on the same database and reads the original building again: it starts
from what the first one learned (stored in BACnetDevice.learned_*) instead of failing again.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bacpypes3.apdu import AbortPDU, RejectPDU
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.simulator.clone_file import load_clone
from tests.conftest import _free_udp_port
from tests.worker.conftest import (
    ROOT,
    Process,
    _migrated,
    manage,
    process_env,
    sql,
)

pytestmark = pytest.mark.slow

ORIGINAL, CLONED = "original", "cloned"
DEVICES = [1000, 1001, 1002, 1003]
# What the worker logs when it learns a fallback by failing. (It reads the object list of a
# device whose I-Am says no-segmentation index by index from the start, without a line.)
FALLBACKS = {
    "index by index": re.compile(r"(\S+) can't send its object list at once"),
    "one by one": re.compile(r"(\S+) does not take ReadPropertyMultiple"),
}


@dataclass(frozen=True)
class Rig:
    url: str
    port: int
    original_log: str  # the worker's output
    restarted_log: str  # the original site's worker, restarted after its discovery and collects
    cloned_log: str


def run_task(url: str, site: str, *args: str) -> dict[str, Any]:
    done = manage(
        url, "bacnet_task", *args, "--site", site, "--wait", "--timeout", "60", timeout=90
    )
    assert done.returncode == 0, done.stdout + done.stderr
    status, _, result = done.stdout.strip().splitlines()[-1].partition(": ")
    assert status.endswith("completed"), done.stdout
    return dict(json.loads(result))


def start(name: str, args: list[str], env: dict[str, str], logs: Path) -> Process:
    return Process(args, env, logs / f"{name}.log")


def worker(url: str, site: str, port: int, logs: Path, running: list[Process]) -> Process:
    # BACNET_TIMEOUT: the discovery's I-Am window (the tests' environment says 1 s); the
    # simulator, another process, may answer later on a loaded machine.
    env = process_env(
        url, BACNET_ADDRESS=f"127.0.0.1/8:{port}", BACNET_SITE=site, BACNET_TIMEOUT="5"
    )
    process = start(
        f"worker-{site}", [sys.executable, str(ROOT / "manage.py"), "bacnet_worker"], env, logs
    )
    running.append(process)  # stopped (and its log closed) even if it never gets ready
    process.wait_for_output("ready:", timeout=30)
    return process


def discover_and_collect(url: str, site: str, collects: int) -> None:
    found = run_task(url, site, "discover", "--low", "1000", "--high", "1999")
    assert found["devices"] == DEVICES, found
    for _ in range(collects):  # the first describes the points; each stores a reading of each
        collected = run_task(url, site, "collect")
        assert collected["failed_devices"] == [], collected


def databases(kind: str, tmp: Path) -> Iterator[str]:
    assert kind == "sqlite", kind
    return _migrated(iter([f"sqlite:///{tmp / 'bms.sqlite3'}"]))


# One database: the clone is read from the site's rows through the ORM alone, and the worker's
# PostgreSQL paths are the other end-to-end modules' (this stack costs ~30 s a database).
@pytest.fixture(scope="module", params=["sqlite"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    logs = tmp_path_factory.mktemp("site-clone")
    port = _free_udp_port()
    for url in databases(request.param, logs):
        running: list[Process] = []
        try:
            building = start(
                "original",
                [
                    sys.executable, "-m", "bms.simulator",
                    "--devices", "4", "--objects", "100",  # 1001's object list > 480 octets
                    "--port", str(port), "--change-interval", "0.3",
                ],
                process_env(url),
                logs,
            )  # fmt: skip
            running.append(building)
            building.wait_for_output("ready")
            first = worker(url, ORIGINAL, port, logs, running)
            discover_and_collect(url, ORIGINAL, collects=2)  # two values to replay
            first.stop()
            original_log = first.output()  # before the restarted worker writes the same file
            restarted = worker(url, ORIGINAL, port, logs, running)
            run_task(url, ORIGINAL, "read_points", "--device", "1002")
            run_task(url, ORIGINAL, "collect")
            restarted.stop()
            building.stop()
            clone = start(
                "clone",
                [
                    sys.executable, str(ROOT / "manage.py"), "bacnet_simulate",
                    "--from-site", ORIGINAL, "--port", str(port), "--change-interval", "0.3",
                ],
                process_env(url),
                logs,
            )  # fmt: skip
            running.append(clone)
            clone.wait_for_output("ready", timeout=30)
            second = worker(url, CLONED, port, logs, running)
            discover_and_collect(url, CLONED, collects=1)
            second.stop()
            yield Rig(url, port, original_log, restarted.output(), second.output())
        finally:
            for process in reversed(running):
                process.stop()


def rows(url: str, site: str, query: str, json_columns: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """The query's rows, JSON columns as values (SQLite hands them back as text)."""
    on_sqlite = url.startswith("sqlite")
    return [
        tuple(
            json.loads(column) if on_sqlite and n in json_columns and column is not None else column
            for n, column in enumerate(row)
        )
        for row in sql(url, query, site)
    ]


DEVICE_ROWS = (
    "SELECT device_instance, name, vendor_id, vendor_name, model_name, description, location, "
    "max_apdu, segmentation, services_supported FROM devices_bacnetdevice WHERE site=%s "
    "ORDER BY device_instance"
)
POINT_ROWS = (
    "SELECT d.device_instance, p.object_type, p.instance, p.name, p.description, p.units, "
    "p.state_texts, p.commandable FROM devices_bacnetpoint p JOIN devices_bacnetdevice d "
    "ON p.device_id=d.id WHERE d.site=%s ORDER BY 1, 2, 3"
)


def test_the_worker_discovers_the_clone_as_the_original_devices(rig: Rig) -> None:
    original = rows(rig.url, ORIGINAL, DEVICE_ROWS, (9,))
    cloned = rows(rig.url, CLONED, DEVICE_ROWS, (9,))

    assert [row[0] for row in cloned] == DEVICES
    assert cloned == original
    by_instance = {row[0]: row for row in cloned}
    assert (by_instance[1001][7], by_instance[1001][8]) == (480, "no-segmentation")
    assert "read-property-multiple" not in by_instance[1002][9]


def test_the_worker_reads_the_same_objects_names_units_and_state_texts(rig: Rig) -> None:
    original = rows(rig.url, ORIGINAL, POINT_ROWS, (6,))
    cloned = rows(rig.url, CLONED, POINT_ROWS, (6,))

    assert len(original) == 4 * (100 + 1)  # each device's points and its trend log
    assert cloned == original


TREND_LOGS = (
    "SELECT d.device_instance, p.instance, l.object_type, l.instance FROM devices_bacnetpoint p "
    "JOIN devices_bacnetdevice d ON p.device_id=d.id JOIN devices_bacnetpoint l "
    "ON p.logged_point_id=l.id WHERE d.site=%s AND p.object_type='trend-log' ORDER BY 1, 2"
)


def test_the_clones_trend_logs_log_the_same_points(rig: Rig) -> None:
    original = rows(rig.url, ORIGINAL, TREND_LOGS, ())

    assert [row[0] for row in original] == DEVICES
    assert rows(rig.url, CLONED, TREND_LOGS, ()) == original


def test_the_worker_hits_the_same_fallbacks_on_the_clone(rig: Rig) -> None:
    assert fallbacks(rig.url, ORIGINAL, rig.original_log) == {
        "index by index": set(),  # 1001 says it cannot segment: read by index at once
        "one by one": {1002},
    }
    assert fallbacks(rig.url, CLONED, rig.cloned_log) == fallbacks(
        rig.url, ORIGINAL, rig.original_log
    )


LEARNED_ROWS = (
    "SELECT device_instance, learned_rpm, learned_segmentation, learned_max_apdu, "
    "learned_at IS NOT NULL FROM devices_bacnetdevice WHERE site=%s ORDER BY device_instance"
)


def test_what_the_worker_learned_of_each_device_is_stored(rig: Rig) -> None:
    assert [tuple(row) for row in sql(rig.url, LEARNED_ROWS, ORIGINAL)] == [
        (1000, True, True, 1476, True),
        (1001, True, False, 480, True),  # cannot segment
        (1002, False, True, 1476, True),  # refuses RPM
        (1003, True, True, 1476, True),
    ]


def test_a_restarted_worker_does_not_learn_the_fallbacks_again(rig: Rig) -> None:
    assert "capabilities of 4 known devices loaded" in rig.restarted_log
    # It read 1002's points and collected every device without an RPM to 1002 to refuse.
    assert fallbacks(rig.url, ORIGINAL, rig.restarted_log) == {
        "index by index": set(),
        "one by one": set(),
    }


def fallbacks(url: str, site: str, log: str) -> dict[str, set[int]]:
    """Which devices the worker's log says it fell back on, by fallback."""
    instances = {
        address: instance
        for instance, address in sql(
            url, "SELECT device_instance, address FROM devices_bacnetdevice WHERE site=%s", site
        )
    }
    return {
        name: {instances[address] for address in pattern.findall(log)}
        for name, pattern in FALLBACKS.items()
    }


VALUE_ROWS = (
    "SELECT d.device_instance, p.object_type, p.instance, p.commandable, p.last_value "
    "FROM devices_bacnetpoint p JOIN devices_bacnetdevice d ON p.device_id=d.id "
    "WHERE d.site=%s AND p.object_type <> 'trend-log'"
)
HISTORY_ROWS = (
    "SELECT d.device_instance, p.object_type, p.instance, r.value FROM devices_bacnetreading r "
    "JOIN devices_bacnetpoint p ON r.point_id=p.id JOIN devices_bacnetdevice d "
    "ON p.device_id=d.id WHERE d.site=%s"
)


def test_the_clone_replays_the_originals_recorded_values(rig: Rig) -> None:
    history: dict[tuple[Any, ...], list[Any]] = {}
    for *key, value in rows(rig.url, ORIGINAL, HISTORY_ROWS, (3,)):
        history.setdefault(tuple(key), []).append(value)
    original = {tuple(row[:3]): row[4] for row in rows(rig.url, ORIGINAL, VALUE_ROWS, (4,))}

    cloned = rows(rig.url, CLONED, VALUE_ROWS, (4,))
    moving = [row for row in cloned if row[1] == "analog-input"]
    assert moving
    for *key, commandable, value in cloned:
        if commandable:  # keeps its last value: what an operator commands is not replayed
            assert value == original[tuple(key)], key
        else:  # one of the values the site recorded
            assert value in history[tuple(key)], key


def test_the_clone_refuses_what_the_original_refused(rig: Rig) -> None:
    refusals = asyncio.run(probe(rig.port))

    assert refusals == {
        1000: (None, None),
        1001: ("segmentation-not-supported", None),  # its object list does not fit in 480 octets
        1002: (None, "unrecognized-service"),
        1003: (None, None),
    }


async def probe(port: int) -> dict[int, tuple[str | None, str | None]]:
    """Each device's refusal of a whole object-list read and of an RPM (None: answered)."""
    config = EngineConfig(address=f"127.0.0.250/8:{port}", device_instance=4001)
    app: Any = await open_application(config)
    try:
        return {
            instance: (
                await refusal(app.read_property(address, device, "object-list")),
                await refusal(app.read_property_multiple(address, [device, ["object-name"]])),
            )
            for instance, address, device in (
                (i, Address(f"127.0.0.{n}:{port}"), ObjectIdentifier(("device", i)))
                for n, i in enumerate(DEVICES, start=2)
            )
        }
    finally:
        close_application(app)


async def refusal(request: Any) -> str | None:
    try:
        await asyncio.wait_for(request, 5)
    except (AbortPDU, RejectPDU) as exc:
        return str(exc.apduAbortRejectReason)
    return None


def test_a_sites_description_saved_for_where_its_database_is_not(rig: Rig, tmp_path: Path) -> None:
    saved = tmp_path / "original.json"

    done = manage(rig.url, "bacnet_simulate", "--from-site", ORIGINAL, "--save-clone", str(saved))

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"saved 4 devices (400 points) to {saved}")
    devices = load_clone(saved)
    assert [device.instance for device in devices] == DEVICES
    assert (devices[1].segmentation, devices[2].supports_rpm) == ("no-segmentation", False)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--from-site", "nowhere"), "error: site 'nowhere' has no devices in the database"),
        (("--from-site", ORIGINAL, "--from-ede", "x.csv"), "error: one of --from-site"),
        (("--from-site", ORIGINAL, "--max-values", "0"), "error: history hours must be >= 0"),
    ],
)
def test_a_clone_that_cannot_be_made_stops_with_a_message(
    rig: Rig, args: tuple[str, ...], error: str
) -> None:
    done = manage(rig.url, "bacnet_simulate", *args)

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(error), done.stderr
