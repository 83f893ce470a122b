"""start_native_worker.sh needs no human: a worker that dies (kill -9) is started again after a
delay, and SIGTERM to the script still stops the worker cleanly and ends the script."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.worker.conftest import ROOT, _migrated
from tests.worker.test_deploy_files import assert_port_free, native_env

pytestmark = pytest.mark.slow

READY = re.compile(r"worker \S+:(\d+) ready: native backend")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from _migrated(iter([f"sqlite:///{tmp_path / 'bms.sqlite3'}"]))


def _ready_pids(output: str) -> list[int]:
    return [int(pid) for pid in READY.findall(output)]


def _wait_for_ready_count(script: Any, count: int, timeout: float = 40) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _ready_pids(script.output())
        if len(pids) >= count:
            return pids
        assert script.popen.poll() is None, script.output()
        time.sleep(0.1)
    raise AssertionError(f"{count} worker starts not seen in {timeout}s:\n{script.output()}")


def test_the_shell_script_starts_a_killed_worker_again(
    sqlite_url: str, tmp_path: Path, bacnet_port: int, start_process: Any
) -> None:
    script = start_process(
        "script",
        ["sh", str(ROOT / "start_native_worker.sh")],
        native_env(
            tmp_path,
            DATABASE_URL=sqlite_url,
            BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}",
            BMS_SKIP_INSTALL="1",
        ),
    )
    (first,) = _wait_for_ready_count(script, 1)
    os.kill(first, signal.SIGKILL)
    pids = _wait_for_ready_count(script, 2)
    assert pids[1] != first
    assert "the worker exited with status 137; starting it again in 2s" in script.output()
    # A service manager's SIGTERM reaches the worker through the script, which then ends.
    assert script.stop(signal.SIGTERM, timeout=20) == 0, script.output()
    assert script.output().count("stopped") >= 1
    assert_port_free(bacnet_port)
