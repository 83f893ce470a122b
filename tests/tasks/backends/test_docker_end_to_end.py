"""The docker backend for real: the `bms` command queues a task, a real `celery worker` takes the
message from Redis and calls the runner, which refuses: only `bacnet_worker` runs BACnet tasks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.db import connection

from bms.tasks.backends.docker import RUN_TASK_NAME, celery_queue

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture
def env(tmp_path, redis_url, unique_site):
    if connection.vendor != "sqlite":
        pytest.skip("database-independent: runs once, in the SQLite pass")
    # The production settings module, not the tests one pytest-django put in the environment.
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    clean["DJANGO_SETTINGS_MODULE"] = "bms.settings"
    yield {
        **clean,
        "SECRET_KEY": "k",
        "BMS_VAR_DIR": str(tmp_path / "var"),
        "REDIS_URL": redis_url,
        "BACNET_BACKEND": "docker",
        "BACNET_SITE": unique_site,
    }
    key = celery_queue(unique_site)
    client = redis.Redis.from_url(redis_url)
    client.delete(key, f"_kombu.binding.{key}", f"_kombu.binding_permanent.{key}")
    client.close()


def bms(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # the installed console script
        [str(BIN / "bms"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for_text(path: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen in {timeout} s:\n{content[-3000:]}")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_queued_task_reaches_celery_through_redis_and_a_stock_worker_refuses_it(
    env, redis_url, tmp_path
):
    assert bms(env, "migrate", "-v0").returncode == 0
    queued = bms(env, "bacnet_task", "discover", "--low", "1000", "--high", "1999")
    assert queued.stdout == "queued discover task 1 (docker backend)\n", queued.stderr
    assert "BACnet backend" not in queued.stderr  # only the worker logs it
    key = celery_queue(env["BACNET_SITE"])
    message = json.loads(redis.Redis.from_url(redis_url).lindex(key, 0))
    assert message["headers"]["task"] == RUN_TASK_NAME

    log = tmp_path / "celery.log"
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "bms",
                "worker",
                "-Q",
                key,
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_text(log, "NotTheBACnetWorker", timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    # Read once the worker has exited: the rest of the record may have been written (flushed)
    # after the first look found its start.
    output = log.read_text()
    assert f"Task {RUN_TASK_NAME}[" in output
    assert "BACnet task 1 was not run" in output
    status = json.loads(bms(env, "bacnet_task", "status").stdout)
    assert [(t["id"], t["status"]) for t in status["recent_tasks"]] == [(1, "pending")]


@pytest.mark.slow
def test_waiting_on_a_task_nobody_runs_exits_non_zero(env):
    assert bms(env, "migrate", "-v0").returncode == 0
    waited = bms(env, "bacnet_task", "collect", "--wait", "--timeout", "0.5")
    assert waited.returncode == 1
    assert "CommandError: task 1 still pending after 0.5 s" in waited.stderr
