"""Settings from the environment, checked in fresh interpreters (settings load once per process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
# The variables settings read; each case starts from none of them.
READ_BY_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "BACNET_BACKEND",
    "BACNET_SITE",
    "BACNET_DEVICE_ID",
    "DOCKER_ENV",
    "BMS_VAR_DIR",
)
PRINT_SETTINGS = """
import json, bms.settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "name": str(s.DATABASES["default"]["NAME"]),
    "options": {k: v for k, v in s.DATABASES["default"].get("OPTIONS", {}).items()},
    "channels": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": s.CELERY_BROKER_URL,
    "backend": s.BACNET_BACKEND,
    "site": s.BACNET_SITE,
    "device_id": s.BACNET_DEVICE_ID,
    "hosts": s.ALLOWED_HOSTS,
    "debug": s.DEBUG,
}))
"""


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    return subprocess.run(  # our interpreter, our code
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, "BMS_VAR_DIR": str(tmp_path / "var"), **env},
        timeout=30,
        check=False,
    )


def settings_for(tmp_path: Path, **env: str) -> dict:
    result = load_settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_embedded_default_is_sqlite_in_var_with_wal_and_a_cross_process_layer(tmp_path):
    loaded = settings_for(tmp_path, SECRET_KEY="k")
    assert (loaded["engine"], loaded["name"]) == (
        "django.db.backends.sqlite3",
        str(tmp_path / "var" / "bms.sqlite3"),
    )
    assert (tmp_path / "var").is_dir()
    assert "journal_mode=WAL" in loaded["options"]["init_command"]
    assert loaded["options"]["transaction_mode"] == "IMMEDIATE"
    # Not Redis (none configured), and not in-memory: the worker and web are separate processes.
    assert loaded["channels"] not in (
        "channels_redis.core.RedisChannelLayer",
        "channels.layers.InMemoryChannelLayer",
    )
    assert (loaded["broker"], loaded["site"], loaded["device_id"], loaded["debug"]) == (
        "",
        "default",
        8888,
        False,
    )


def test_a_deployment_gets_postgresql_redis_channels_and_the_redis_broker(tmp_path):
    loaded = settings_for(
        tmp_path,
        SECRET_KEY="k",
        DATABASE_URL="postgres://bms@db.internal:5432/bms",
        REDIS_URL="redis://cache.internal:6379/0",
        BACNET_SITE="north",
        BACNET_DEVICE_ID="9000",
        ALLOWED_HOSTS="bms.example, 10.0.0.5",
        BACNET_BACKEND="auto",
    )
    assert (loaded["engine"], loaded["name"]) == ("django.db.backends.postgresql", "bms")
    assert loaded["channels"] == "channels_redis.core.RedisChannelLayer"
    assert loaded["broker"] == "redis://cache.internal:6379/0"
    assert (loaded["site"], loaded["device_id"], loaded["hosts"]) == (
        "north",
        9000,
        ["bms.example", "10.0.0.5"],
    )


def test_a_broker_url_of_its_own_wins_over_redis_url(tmp_path):
    loaded = settings_for(
        tmp_path, SECRET_KEY="k", REDIS_URL="redis://a:6379/0", CELERY_BROKER_URL="redis://b:6379/1"
    )
    assert loaded["broker"] == "redis://b:6379/1"


def test_without_debug_a_secret_key_is_required(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert settings_for(tmp_path, DEBUG="1")["debug"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACNET_DEVICE_ID": "eight"}, "BACNET_DEVICE_ID='eight' is not an integer"),
        ({"BACNET_BACKEND": "podman"}, "BACNET_BACKEND='podman' is not one of"),
        ({"DEBUG": "sometimes"}, "DEBUG='sometimes' is not a boolean"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(tmp_path, env, message):
    result = load_settings(tmp_path, SECRET_KEY="k", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_sqlite_connections_use_wal_and_wait_for_locks():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA busy_timeout")
        busy_ms = cursor.fetchone()[0]
    assert (journal, busy_ms) == ("wal", 20000)


def test_loading_the_settings_imports_no_app_code(tmp_path):
    """Settings sit below the apps: importing them must not import an app (which would need the
    app registry, and forced lazy imports in bms.tasks.backends)."""
    clean = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    result = subprocess.run(  # our interpreter, our code
        [
            sys.executable,
            "-c",
            "import sys, bms.settings\n"
            "print(sorted(m for m in sys.modules if m.startswith('bms')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, "BMS_VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "k"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == ["bms", "bms.env", "bms.settings"]


def test_bacnet_backend_is_read_as_given_and_resolved_elsewhere(tmp_path):
    assert settings_for(tmp_path, SECRET_KEY="k")["backend"] == "auto"
    assert settings_for(tmp_path, SECRET_KEY="k", BACNET_BACKEND="Docker")["backend"] == "docker"
