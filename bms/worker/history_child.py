"""The history's upkeep in a child process (`bms history_upkeep`), not in the worker's threads.

Why: a roll-up step reads and groups tens of thousands of readings in Python (47,000 readings:
0.76 s of CPU in one call, measured). In the worker that CPU holds the GIL, and the event loop,
which needs it after every datagram it receives or sends, waits its turn: at 1,000 COV changes
a second (bench/cov.py) every minute's upkeep held values 200-600 ms before they reached the
database. A child process has an interpreter of its own, and it runs at a lower CPU priority
(CHILD_NICE), so on a busy machine the BACnet service comes first.

The child works on the worker's own database: the connection's name is passed along, so under
the test suite it is the test database. An in-memory SQLite database has no other process to
share it with: there (tests only) the steps run in the worker's ORM thread as before.
A worker that stops while a child runs terminates it; each step is one transaction, so an
interrupted step leaves nothing half-done (bms.history.rollup).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from django.db import connection
from django.db.backends.sqlite3.creation import DatabaseCreation as SQLiteCreation

from bms.history import maintenance
from bms.worker.db import run_db

__all__ = ["run_upkeep"]

log = logging.getLogger(__name__)

CHILD_NICE = 10
STOP_GRACE_SECONDS = 5.0  # after a terminate, before a kill
OUTPUT_LIMIT = 2000  # characters of the child's stderr told in an error


class UpkeepFailed(RuntimeError):
    """The child exited with an error, or said something that is not a result."""


async def run_upkeep(seconds: float, timeout: float) -> dict[str, Any]:
    """Upkeep steps for up to `seconds`; the child is stopped after `timeout` seconds."""
    if await run_db(_in_memory_database):  # tests only: the steps the child would run
        return {**await run_db(maintenance.run_for, seconds), "process": "worker"}
    return await _in_child(seconds, timeout)


async def _in_child(seconds: float, timeout: float) -> dict[str, Any]:
    name = await run_db(_database_name)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bms.manage", "history_upkeep",
        "--seconds", str(seconds), "--nice", str(CHILD_NICE), "--database-name", name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(timeout):
            out, err = await child.communicate()
    except BaseException:  # timed out, or the worker is stopping: the child goes too
        await _stop(child)
        raise
    if child.returncode != 0:
        raise UpkeepFailed(
            f"history upkeep exited with {child.returncode}: "
            f"{err.decode(errors='replace')[-OUTPUT_LIMIT:]}"
        )
    lines = out.decode(errors="replace").strip().splitlines()
    try:  # the result is its last line (anything printed before it is not ours to read)
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError as exc:
        raise UpkeepFailed(f"history upkeep said no result: {out[-OUTPUT_LIMIT:]!r}") from exc
    if not isinstance(result, dict):
        raise UpkeepFailed(f"history upkeep said no result: {out[-OUTPUT_LIMIT:]!r}")
    return {**result, "process": "child"}


async def _stop(child: asyncio.subprocess.Process) -> None:
    if child.returncode is not None:
        return
    child.terminate()
    try:
        async with asyncio.timeout(STOP_GRACE_SECONDS):
            await asyncio.shield(child.wait())
    except TimeoutError:
        log.warning("history upkeep child %s did not stop: killed", child.pid)
        child.kill()
        await asyncio.shield(child.wait())


def _in_memory_database() -> bool:
    name = connection.settings_dict["NAME"]
    return connection.vendor == "sqlite" and SQLiteCreation.is_in_memory_db(name)


def _database_name() -> str:
    return str(connection.settings_dict["NAME"])
