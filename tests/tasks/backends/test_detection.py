"""Backend auto-detection (seed 000) as a table of environments."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bms.tasks.backends.detection import configured_backend, detect_backend

ROOT = Path(__file__).resolve().parents[3]

REDIS = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


def nothing_exists(path: str) -> bool:
    return False


def dockerenv_exists(path: str) -> bool:
    return path == "/.dockerenv"


@pytest.mark.parametrize(
    ("env", "system", "exists", "backend", "reason_part"),
    [
        ({"BACNET_BACKEND": "native", **REDIS}, "Linux", dockerenv_exists, "native", "explicitly"),
        ({"BACNET_BACKEND": "DOCKER"}, "Windows", nothing_exists, "docker", "explicitly"),
        ({"BACNET_BACKEND": "auto", **REDIS}, "Windows", nothing_exists, "native", "Windows"),
        ({"DOCKER_ENV": "1", **REDIS}, "Windows", nothing_exists, "docker", "DOCKER_ENV"),
        ({"DOCKER_ENV": "0", **REDIS}, "Windows", nothing_exists, "native", "Windows"),
        (REDIS, "Windows", dockerenv_exists, "docker", "/.dockerenv"),
        (REDIS, "Linux", dockerenv_exists, "docker", "Docker container (/.dockerenv exists)"),
        ({}, "Windows", nothing_exists, "native", "neither CELERY_BROKER_URL"),
        (REDIS, "Linux", nothing_exists, "docker", "Linux host"),
        ({"CELERY_BROKER_URL": "redis://h/1"}, "Linux", nothing_exists, "docker", "Linux host"),
        ({}, "Linux", nothing_exists, "native", "neither CELERY_BROKER_URL nor REDIS_URL"),
        ({"REDIS_URL": "  "}, "Linux", nothing_exists, "native", "neither CELERY_BROKER_URL"),
        ({}, "Linux", dockerenv_exists, "native", "neither CELERY_BROKER_URL nor REDIS_URL"),
        (REDIS, "Darwin", nothing_exists, "docker", "Darwin host"),
        ({}, "Darwin", nothing_exists, "native", "neither CELERY_BROKER_URL"),
        (REDIS, "Haiku", nothing_exists, "docker", "unknown system 'Haiku'"),
        ({}, "Haiku", nothing_exists, "native", "neither CELERY_BROKER_URL"),
    ],
)
def test_it_picks_the_backend_for_the_environment(env, system, exists, backend, reason_part):
    chosen, reason = detect_backend(env, system, exists)
    assert (chosen, reason_part in reason) == (backend, True), reason


def test_an_explicit_docker_without_broker_is_kept_for_the_system_check_to_report():
    assert detect_backend({"BACNET_BACKEND": "docker"}, "Linux", nothing_exists)[0] == "docker"


def test_an_unknown_override_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="BACNET_BACKEND='podman' is not one of"):
        detect_backend({"BACNET_BACKEND": "podman"}, "Linux", nothing_exists)


def test_without_a_broker_auto_is_native_and_claims_no_container():
    # A machine with /.dockerenv (this one) running `make run`: native, and the reason says why
    # without calling the machine a Docker deployment.
    chosen, reason = detect_backend({}, "Linux", dockerenv_exists)
    assert chosen == "native"
    assert "no Celery broker" in reason
    assert "Docker" not in reason
    assert "container" not in reason


def test_the_configured_backend_resolves_auto_from_the_settings(settings):
    settings.BACNET_BACKEND, settings.CELERY_BROKER_URL = "auto", ""
    assert configured_backend()[0] == "native"
    settings.BACNET_BACKEND = "docker"
    assert configured_backend() == ("docker", "BACNET_BACKEND=docker set explicitly")


def test_loading_django_logs_no_backend_line(tmp_path):
    """Only the worker logs the backend (once); `make run`'s migrate, collectstatic and other
    commands printed it once each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACNET_", "DJANGO_"))}
    env.update(DEBUG="1", BMS_VAR_DIR=str(tmp_path), BMS_LOG_LEVEL="debug")
    result = subprocess.run(  # our interpreter, our code
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "BACnet backend" not in result.stdout + result.stderr
