"""The docker backend end to end: `bacnet_task` writes the row and sends a Celery message through a
real Redis; a real `bacnet_worker` with BACNET_BACKEND=docker takes the message from its site's
queue, claims the row by id and runs the discovery against the simulated building."""

from __future__ import annotations

import json
import os
import platform
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bms.tasks.backends.detection import detect_backend
from bms.tasks.backends.docker import celery_queue
from tests.conftest import require_services
from tests.worker.conftest import ROOT, Process, manage, process_env, sql

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("BMS_TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/13")
# The docker backend's safety poll (runtime.DOCKER_POLL_SECONDS, 5 s) is made this long for the
# message-path test, so that a task the message did not wake the worker for waits a minute.
SAFETY_POLL_SECONDS = 60.0
# What the message-path test's bound tells apart: a Celery message wakes the worker, which claims
# the task within a fraction of a second of its creation; without the wake, the safety poll
# claims it up to SAFETY_POLL_SECONDS later. The bound sits between, with room for a loaded
# machine.
CLAIMED_WITHIN_SECONDS = 10.0
# The worker as `manage.py bacnet_worker` runs it, with the safety poll above.
WORKER_WITH_SAFETY_POLL = """
import sys
import django
django.setup()
from bms.worker import runtime
runtime.DOCKER_POLL_SECONDS = float(sys.argv[1])
from bms.manage import main
main(["manage.py", "bacnet_worker"])
"""


@pytest.fixture
def site() -> Iterator[str]:
    """A site of its own, so its Celery queue `bacnet.<site>` in Redis is this test's alone.

    Only this site's keys are deleted afterwards (not FLUSHDB), because another test run on the
    machine may be using the same Redis database at the same moment."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if require_services():
            pytest.fail(f"Redis is not reachable: {exc}")
        pytest.skip(f"Redis is not reachable: {exc}")
    name = f"docker-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    key = celery_queue(name)
    client.delete(key, f"_kombu.binding.{key}", f"_kombu.binding_permanent.{key}")
    client.close()


def docker_env(site: str) -> dict[str, str]:
    return {
        "BACNET_BACKEND": "docker",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "BACNET_SITE": site,
    }


def start_docker_worker(
    start_process: Any, env: dict[str, str], site: str, safety_poll: float | None = None
) -> Process:
    command = [sys.executable, str(ROOT / "manage.py"), "bacnet_worker"]
    if safety_poll is not None:
        command = [sys.executable, "-c", WORKER_WITH_SAFETY_POLL, str(safety_poll)]
    worker = start_process("worker", command, env)
    worker.wait_for_output(f"consuming Celery queue {celery_queue(site)}", timeout=30)
    return worker


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_discovery_sent_through_celery_is_run_by_the_worker_from_the_message(
    database_url: str, site: str, start_process: Any, bacnet_port: int
) -> None:
    start_process(
        "simulator",
        [
            sys.executable,
            "-m",
            "bms.simulator",
            "--devices",
            "2",
            "--objects",
            "10",
            "--first-address",
            "127.0.0.2",
            "--first-instance",
            "1000",
            "--port",
            str(bacnet_port),
        ],
        dict(os.environ),
    ).wait_for_output("ready")
    worker = start_docker_worker(
        start_process,
        process_env(
            database_url,
            BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}",
            BACNET_TIMEOUT="1",
            **docker_env(site),
        ),
        site,
        safety_poll=SAFETY_POLL_SECONDS,
    )
    # The worker has made its first poll and now sleeps SAFETY_POLL_SECONDS between polls.
    assert "BACnet backend: docker (BACNET_BACKEND=docker set explicitly)" in worker.output()

    done = manage(
        database_url,
        "bacnet_task",
        "discover",
        "--low",
        "1000",
        "--high",
        "1999",
        "--wait",
        "--timeout",
        "20",
        **docker_env(site),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    task_id = int(lines[0].removeprefix("queued discover task ").split()[0])
    assert lines[0] == f"queued discover task {task_id} (docker backend)"
    assert lines[-1].startswith(f"task {task_id} completed: ")

    # Same row and result as the native backend gives (test_worker_end_to_end).
    status, attempts, owner, task_site, result, created, claimed = sql(
        database_url,
        "SELECT status, attempts, worker_id, site, result, created_at, "
        "started_at FROM tasks_bacnettask WHERE id = %s",
        task_id,
    )[0]
    assert (status, attempts, task_site) == ("completed", 1, site)
    assert owner.endswith(f":{worker.popen.pid}")
    assert json.loads(lines[-1].split(": ", 1)[1]) == result
    assert {k: v for k, v in result.items() if k != "scan_id"} == {
        "cached": False,
        "devices_found": 2,
        "devices": [1000, 1001],
        "unreadable": [],
    }
    assert isinstance(result["scan_id"], int)
    devices = sql(
        database_url,
        "SELECT device_instance, site FROM devices_bacnetdevice ORDER BY device_instance",
    )
    assert devices == [(1000, site), (1001, site)]

    # The message path, not the safety poll: the worker says so, the queue is drained, and the
    # message woke the worker (the claim came long before the next poll; see the bound).
    assert f"task {task_id} claimed from a Celery message" in worker.output()
    assert redis.Redis.from_url(REDIS_URL).llen(celery_queue(site)) == 0
    assert (claimed - created).total_seconds() < CLAIMED_WITHIN_SECONDS, (created, claimed)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_in_a_container_detects_docker_and_says_why(
    database_url: str, site: str, start_process: Any, bacnet_port: int
) -> None:
    env = process_env(
        database_url,
        BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}",
        DOCKER_ENV="1",
        REDIS_URL=REDIS_URL,
        BACNET_SITE=site,
    )
    del env["BACNET_BACKEND"]  # no override: detection decides
    backend, reason = detect_backend(env, platform.system(), os.path.exists)
    # In a container the reason names /.dockerenv; elsewhere DOCKER_ENV decides.
    assert backend == "docker", reason
    assert "a Docker container" in reason, reason
    worker = start_docker_worker(start_process, env, site)
    # Said once, by the worker (Django's start-up says nothing about it).
    assert worker.output().count("BACnet backend") == 1, worker.output()
    assert f"BACnet backend: docker ({reason})" in worker.output(), worker.output()
    assert "ready: docker backend" in worker.output()
