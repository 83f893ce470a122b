"""Shared fixtures: loopback ports that no other test is using, private test databases, the real
PostgreSQL and Redis, and the second-pass replay hook.

SQLite tests run on a file (not Django's default in-memory database) so that threads get their
own connections with WAL and a busy timeout, as the web process and the worker do. Database names
carry the pid so two test runs on one machine do not share a database.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Generator

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.second_pass import replay_second_pass

POSTGRES_URL = os.environ.get("BMS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 now; tests use one port each so broadcasts stay private."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def bacnet_port() -> int:
    """A fresh UDP port: every BACnet host in the test binds 127.0.0.N on this port."""
    return _free_udp_port()


def require_services() -> bool:
    """REQUIRE_SERVICES=1 (CI) turns 'service not running' from a skip into a failure."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def service_down(what: str, error: Exception) -> None:
    """Skip, or fail under REQUIRE_SERVICES=1, when a service the test needs is not running."""
    message = f"{what} is not reachable: {error}"
    if require_services():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = str(tmp_path_factory.mktemp("sqlite") / "test_bms.sqlite3")
    else:
        name = f"test_bms_{os.getpid()}"
    database.setdefault("TEST", {})["NAME"] = name


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server's URL (tests/worker overrides it with a fresh, migrated database)."""
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


@pytest.fixture
def unique_site() -> str:
    """A site name no other test (or test run) uses: it names a Celery queue in Redis."""
    return f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """After a test that ran a second pass (the PostgreSQL pass), report each of its tests."""
    try:
        return (yield)
    finally:
        replay_second_pass(item)
