"""Real processes for end-to-end tests: a migrated database, the simulator, the worker.

Everything runs as the user would run it (`manage.py ...`, `python -m bms.simulator`) against a
database the test creates: an SQLite file, or a fresh PostgreSQL database dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import require_services

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "BMS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)


def process_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACNET_", "DJANGO_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="tests-only",
        BACNET_BACKEND="native",
        DJANGO_SETTINGS_MODULE="bms.settings",
        PYTHONUNBUFFERED="1",
        BACNET_TIMEOUT="1.0",
        BACNET_TASK_LEASE_SECONDS="6",
    )
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env.update(extra)
    return env


def manage(
    database_url: str, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
        env=process_env(database_url, **env),
    )


def _postgres_database() -> Iterator[str]:
    name = f"bms_e2e_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if require_services():
            pytest.fail(f"PostgreSQL is not reachable: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        yield from _migrated(iter([f"sqlite:///{tmp_path / 'bms.sqlite3'}"]))
    else:
        yield from _migrated(_postgres_database())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL does."""
    yield from _migrated(_postgres_database())


def _migrated(urls: Iterator[str]) -> Iterator[str]:
    url = next(urls)
    migrated = manage(url, "migrate", "--no-input", timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    yield url
    for _rest in urls:  # run the generator's cleanup
        pass


class Process:
    """A subprocess whose output is kept in a file, stopped with SIGTERM at the end."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, text=True
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for_output(self, needle: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not printed within {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[Any]:
    started: list[Process] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env, tmp_path / f"{name}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def simulator(start_process: Any, bacnet_port: int) -> Process:
    process = start_process(
        "simulator",
        [
            sys.executable,
            "-m",
            "bms.simulator",
            "--devices",
            "4",
            "--objects",
            "24",
            "--first-address",
            "127.0.0.2",
            "--first-instance",
            "1000",
            "--port",
            str(bacnet_port),
            "--change-interval",
            "0.5",
        ],
        dict(os.environ),
    )
    process.wait_for_output("ready")
    return process


def start_worker(start_process: Any, database_url: str, port: int, **env: str) -> Process:
    process = start_process(
        "worker",
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "bacnet_worker",
        ],
        process_env(database_url, BACNET_ADDRESS=f"127.0.0.1/8:{port}", **env),
    )
    process.wait_for_output("ready:")
    return process


def sql(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the product's tables directly, as an independent check of what it stored."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return db.execute(query.replace("%s", "?"), params).fetchall()
    with psycopg.connect(database_url) as db:
        return db.execute(query, params).fetchall()
