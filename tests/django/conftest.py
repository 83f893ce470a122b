"""Fixtures for the Django tests: private test databases, and the real PostgreSQL and Redis.

SQLite tests run on a file (not Django's default in-memory database) so that threads get their
own connections with WAL and a busy timeout, as the web process and the worker do. Database names
carry the pid so two test runs on one machine do not share a database.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.conftest import require_services

POSTGRES_URL = os.environ.get("BMS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = str(tmp_path_factory.mktemp("sqlite") / "test_bms.sqlite3")
    else:
        name = f"test_bms_{os.getpid()}"
    database.setdefault("TEST", {})["NAME"] = name


def service_down(what: str, error: Exception) -> None:
    """Skip, or fail under REQUIRE_SERVICES=1, when a service the test needs is not running."""
    message = f"{what} is not reachable: {error}"
    if require_services():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        service_down("PostgreSQL", exc)
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.ConnectionError as exc:
        service_down("Redis", exc)
    return REDIS_URL


@pytest.fixture
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: runs in the PostgreSQL pass (test_postgresql_pass.py)")


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run target(i) in `count` threads, each with its own database connection; re-raise the
    first error so a failure in a thread fails the test."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            results[index] = target(index)
        except BaseException as exc:  # handed to the test thread below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,), name=f"test-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results


@pytest.fixture
def unique_site() -> str:
    """A site name no other test (or test run) uses: it names a Celery queue in Redis."""
    return f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
