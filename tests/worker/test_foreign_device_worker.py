"""A worker on another subnet than its building, registered with the building's BBMD.

Real processes in a network namespace the test creates (tests/netns.py): the simulator on
127.0.2.0/24 (its first device is the BBMD) and the worker on 127.0.1.0/24, configured the way
a user would (BACNET_FOREIGN_BBMD). SQLite: the namespace cannot reach the host's PostgreSQL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.netns import BUILDING_SUBNET, WORKER_SUBNET, two_subnets
from tests.worker.conftest import ROOT, manage, process_env, sql
from tests.worker.test_worker_end_to_end import run_task

pytestmark = pytest.mark.slow


def test_a_worker_on_another_subnet_discovers_the_building_through_its_bbmd(
    start_process: Any,
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'bms.sqlite3'}"
    assert manage(database_url, "migrate", "--no-input", timeout=120).returncode == 0
    with two_subnets() as inside:
        simulator = start_process(
            "simulator",
            [
                *inside,
                sys.executable,
                "-m",
                "bms.simulator",
                "--devices",
                "3",
                "--objects",
                "10",
                "--first-address",
                f"{BUILDING_SUBNET}.2",
                "--prefix",
                "24",
                "--first-instance",
                "1000",
                "--port",
                "47808",
                "--bbmd",
            ],
            process_env(database_url),
        )
        simulator.wait_for_output("ready")
        assert "device 1000 127.0.2.2:47808" in simulator.output()
        assert "bbmd=yes" in simulator.output()
        worker = start_process(
            "worker",
            [
                *inside,
                sys.executable,
                str(ROOT / "manage.py"),
                "bacnet_worker",
            ],
            process_env(
                database_url,
                BACNET_ADDRESS=f"{WORKER_SUBNET}.1/24:47808",
                BACNET_FOREIGN_BBMD=f"{BUILDING_SUBNET}.2",
                # The discovery's I-Am window (the tests' environment says 1 s): answers through
                # the BBMD from another process may come later on a loaded machine.
                BACNET_TIMEOUT="5",
            ),
        )
        worker.wait_for_output("ready:")
        # The worker waits BACNET_TIMEOUT (5 s here) for the BBMD's answer before it says
        # ready; a loaded machine's BBMD may answer later, and the next heartbeat records it
        # then. Discover once the row says registered (a pending device's Who-Is stays home).
        row = wait_for_worker_row(database_url, "registered")
        assert row == (f"{WORKER_SUBNET}.1/24:47808", f"{BUILDING_SUBNET}.2", "registered")
        assert (
            f"registered as a foreign device with BBMD {BUILDING_SUBNET}.2" in worker.output()
            or f"registration with BBMD {BUILDING_SUBNET}.2: registered" in worker.output()
        ), worker.output()

        found = run_task(database_url, "discover")
        assert found["status"] == "completed", found
        assert found["devices"] == [1000, 1001, 1002]
        worker.stop()
        simulator.stop()


def wait_for_worker_row(
    database_url: str, registration: str, timeout: float = 20
) -> tuple[Any, ...]:
    """The worker's row (address, BBMD, registration) once its registration reads
    `registration`; the last one read if it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        rows = sql(database_url, "SELECT bacnet_address, bbmd, bbmd_registration FROM tasks_worker")
        if (len(rows) == 1 and rows[0][2] == registration) or time.monotonic() >= deadline:
            return rows[0] if len(rows) == 1 else tuple(rows)
        time.sleep(0.1)
