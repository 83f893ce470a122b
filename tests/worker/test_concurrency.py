"""Several real `manage.py bacnet_worker` processes on one queue: each task runs exactly once,
and a task whose worker is killed with SIGKILL comes back and is finished by another worker."""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
from collections import Counter
from typing import Any

import pytest

from tests.worker.conftest import ROOT, Process, manage, process_env, sql

pytestmark = pytest.mark.slow

LEASE_SECONDS = "4"
COMPLETED_LINE = re.compile(r"task (\d+) \(collect\) completed")


def start_workers(
    start_process: Any, database_url: str, port: int, count: int, **env: str
) -> list[Process]:
    """`count` workers on 127.0.0.1, .5, .9, ... of the test's port, each its own device."""
    command = [sys.executable, str(ROOT / "manage.py"), "bacnet_worker"]
    workers = [
        start_process(
            f"worker{index}",
            command,
            process_env(
                database_url,
                BACNET_ADDRESS=f"127.0.0.{1 + 4 * index}/8:{port}",
                BACNET_DEVICE_ID=str(8801 + index),
                BACNET_TASK_LEASE_SECONDS=LEASE_SECONDS,
                BACNET_POLL_SECONDS="0",
                **env,
            ),
        )
        for index in range(count)
    ]
    # Started together, waited for together: no worker gets a head start on the queue.
    for worker in workers:
        worker.wait_for_output("ready:", timeout=30)
    return workers


def worker_id(process: Process) -> str:
    return f"{socket.gethostname()}:{process.popen.pid}"


def enqueue_empty_collects(database_url: str, count: int) -> None:
    """`count` collects of no devices (they finish without BACnet I/O), in one transaction so
    every worker sees them appear at the same moment."""
    code = (
        "from django.db import transaction\n"
        "from bms.tasks import queue\n"
        "with transaction.atomic():\n"
        f"    for _ in range({count}):\n"
        "        queue.enqueue('collect', {'device_ids': []})\n"
    )
    done = manage(database_url, "shell", "-c", code)
    assert done.returncode == 0, done.stdout + done.stderr


def wait_until_finished(database_url: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = sql(
            database_url,
            "SELECT COUNT(*) FROM tasks_bacnettask WHERE status IN ('completed', 'failed')",
        )[0][0]
        if finished >= expected:
            return
        time.sleep(0.2)
    counts = sql(database_url, "SELECT status, COUNT(*) FROM tasks_bacnettask GROUP BY status")
    raise AssertionError(f"not all {expected} tasks finished within {timeout}s: {counts}")


def assert_each_task_ran_exactly_once(
    database_url: str, workers: list[Process], count: int
) -> None:
    by_status = dict(
        sql(database_url, "SELECT status, COUNT(*) FROM tasks_bacnettask GROUP BY status")
    )
    assert by_status == {"completed": count}, by_status
    attempts = dict(
        sql(database_url, "SELECT attempts, COUNT(*) FROM tasks_bacnettask GROUP BY attempts")
    )
    assert attempts == {1: count}, attempts
    results = sql(database_url, "SELECT DISTINCT CAST(result AS TEXT) FROM tasks_bacnettask")
    assert len(results) == 1, results
    assert '"devices": 0' in results[0][0], results

    per_worker = dict(
        sql(database_url, "SELECT worker_id, COUNT(*) FROM tasks_bacnettask GROUP BY worker_id")
    )
    ids = {worker_id(process): process for process in workers}
    assert set(per_worker) <= set(ids), (per_worker, list(ids))
    assert len(per_worker) > 1, f"only one worker took part: {per_worker}"

    # Independent of the rows: every worker's own log says which tasks it ran to the end. The
    # runner logs "completed" after it has stored the status and published the change (a
    # later step): wait for the lines, then count them.
    wait_for_completed_lines(workers, count, timeout=20)
    runs: Counter[int] = Counter()
    for wid, process in ids.items():
        ran = [int(task_id) for task_id in COMPLETED_LINE.findall(process.output())]
        assert len(ran) == per_worker.get(wid, 0), (wid, len(ran), per_worker)
        runs.update(ran)
    all_ids = {row[0] for row in sql(database_url, "SELECT id FROM tasks_bacnettask")}
    assert set(runs) == all_ids
    assert max(runs.values()) == 1, [task for task, times in runs.items() if times > 1]


def wait_for_completed_lines(workers: list[Process], count: int, timeout: float) -> None:
    """Until the workers' logs hold `count` "completed" lines between them, or `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        logged = sum(len(COMPLETED_LINE.findall(process.output())) for process in workers)
        if logged >= count or time.monotonic() >= deadline:
            return  # the exact counts are asserted by the caller
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("database_url", "workers", "tasks"),
    [("postgres", 4, 1000), ("sqlite", 2, 200)],
    indirect=["database_url"],
)
def test_many_tasks_on_several_workers_each_run_exactly_once(
    database_url: str, workers: int, tasks: int, start_process: Any, bacnet_port: int
) -> None:
    processes = start_workers(start_process, database_url, bacnet_port, workers)
    enqueue_empty_collects(database_url, tasks)
    wait_until_finished(database_url, tasks, timeout=60)
    assert_each_task_ran_exactly_once(database_url, processes, tasks)
    stop_all(processes)


def stop_all(processes: list[Process]) -> None:
    """SIGTERM to all at once (they stop in parallel); each must still be up and exit cleanly."""
    for process in processes:
        assert process.popen.poll() is None, process.output()[-3000:]
        process.popen.send_signal(signal.SIGTERM)
    for process in processes:
        # Wait, not stop(): a second SIGTERM after the loop has closed would kill the process.
        assert process.popen.wait(15) == 0, process.output()[-3000:]
        process.stop()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_task_of_a_killed_worker_is_run_again_by_another_worker(
    database_url: str, start_process: Any, bacnet_port: int
) -> None:
    # A Who-Is directed at a silent loopback host waits BACNET_TIMEOUT for I-Ams: a task that
    # lasts a known few seconds and then completes with no devices.
    processes = start_workers(start_process, database_url, bacnet_port, 2, BACNET_TIMEOUT="2")
    queued = manage(
        database_url,
        "bacnet_task",
        "discover",
        "--force",
        "--address",
        f"127.0.0.250:{bacnet_port}",
    )
    assert queued.returncode == 0, queued.stderr
    task_id = int(re.search(r"queued discover task (\d+)", queued.stdout).group(1))

    first = wait_for_claim(database_url, task_id, timeout=10)
    by_id = {worker_id(process): process for process in processes}
    victim = by_id[first]
    victim.popen.send_signal(signal.SIGKILL)
    assert victim.popen.wait(5) == -signal.SIGKILL
    status, attempts, _ = task_row(database_url, task_id)
    assert (status, attempts) == ("running", 1), "the task finished before the kill"

    deadline = time.monotonic() + 30
    while task_row(database_url, task_id)[0] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
    status, attempts, second = task_row(database_url, task_id)
    assert (status, attempts) == ("completed", 2)
    survivor = next(process for wid, process in by_id.items() if wid != first)
    assert second == worker_id(survivor)
    assert f"requeued [{task_id}]" in survivor.output()
    result = sql(
        database_url, "SELECT CAST(result AS TEXT) FROM tasks_bacnettask WHERE id = %s", task_id
    )[0][0]
    assert '"devices_found": 0' in result, result
    assert '"cached": false' in result, result
    stop_all([survivor])


def wait_for_claim(database_url: str, task_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _attempts, owner = task_row(database_url, task_id)
        if status == "running" and owner:
            return owner
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} not claimed within {timeout}s")


def task_row(database_url: str, task_id: int) -> tuple[str, int, str]:
    rows = sql(
        database_url,
        "SELECT status, attempts, worker_id FROM tasks_bacnettask WHERE id = %s",
        task_id,
    )
    return rows[0]
