"""Backend auto-detection (seed 000) as a table of environments."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from bms.tasks.backends.detection import detect_backend

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
        ({}, "Windows", nothing_exists, "native", "Windows"),
        (REDIS, "Linux", nothing_exists, "docker", "Linux host"),
        ({"CELERY_BROKER_URL": "redis://h/1"}, "Linux", nothing_exists, "docker", "Linux host"),
        ({}, "Linux", nothing_exists, "native", "neither CELERY_BROKER_URL nor REDIS_URL"),
        ({"REDIS_URL": "  "}, "Linux", nothing_exists, "native", "neither CELERY_BROKER_URL"),
        ({}, "Linux", dockerenv_exists, "native", "neither CELERY_BROKER_URL nor REDIS_URL"),
        (REDIS, "Darwin", nothing_exists, "docker", "Darwin host"),
        ({}, "Darwin", nothing_exists, "native", "neither CELERY_BROKER_URL"),
        (REDIS, "Haiku", nothing_exists, "docker", "unknown system 'Haiku'"),
        ({}, "Haiku", nothing_exists, "native", "unknown system 'Haiku'"),
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


def test_start_up_logs_the_backend_and_why(caplog, settings):
    settings.BACNET_BACKEND, settings.BACNET_BACKEND_REASON = "native", "Windows host: because"
    with caplog.at_level("INFO", logger="bms.settings"):
        apps.get_app_config("tasks").ready()
    assert [r.getMessage() for r in caplog.records] == [
        "BACnet backend native: Windows host: because"
    ]
