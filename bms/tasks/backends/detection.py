"""Which BACnet backend this installation uses, and why (seed 000's auto-detection).

`detect_backend` is a pure function of the environment, the platform name and a path test, so
every case can be tested as a table without touching the real machine. `configured_backend`
calls it with the real ones: settings only read BACNET_BACKEND (auto, native or docker), and the
code that needs the backend (the worker, task submission, `bacnet_task status`) asks here.

Order: an explicit BACNET_BACKEND wins. Docker hands tasks to Celery, so without a broker it
cannot work: auto is then native, whatever the machine (the reason says only that). With a
broker: inside a container, docker; Windows, native (its worker runs on the host's network,
where BACnet broadcasts are); Linux, macOS and anything unknown, docker. An explicit docker
without a broker is left alone for the system check to report, because silently overriding the
user's choice would hide the mistake.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NATIVE = "native"
DOCKER = "docker"
BACKENDS = (NATIVE, DOCKER)
_FALSE = frozenset({"0", "false", "no", "off"})


def has_broker(env: Mapping[str, str]) -> bool:
    """Celery's broker comes from CELERY_BROKER_URL, or REDIS_URL when that is unset."""
    return any((env.get(name) or "").strip() for name in ("CELERY_BROKER_URL", "REDIS_URL"))


def detect_backend(
    env: Mapping[str, str], system: str, path_exists: Callable[[str], bool]
) -> tuple[str, str]:
    """Return (backend, reason); raise ImproperlyConfigured for an unknown BACNET_BACKEND."""
    override = (env.get("BACNET_BACKEND") or "").strip().lower()
    if override in BACKENDS:
        return override, f"BACNET_BACKEND={override} set explicitly"
    if override not in ("", "auto"):
        raise ImproperlyConfigured(
            f"BACNET_BACKEND={env['BACNET_BACKEND']!r} is not one of: native, docker, auto"
        )
    if not has_broker(env):
        return NATIVE, (
            "no Celery broker (neither CELERY_BROKER_URL nor REDIS_URL is set), so native: "
            "a worker polls the database for tasks"
        )
    return _by_environment(env, system, path_exists)


def configured_backend() -> tuple[str, str]:
    """This installation's backend and why: settings.BACNET_BACKEND, auto resolved on this
    machine (its broker setting, DOCKER_ENV, /.dockerenv, the platform)."""
    env = {
        "BACNET_BACKEND": settings.BACNET_BACKEND,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DOCKER_ENV": os.environ.get("DOCKER_ENV", ""),
    }
    return detect_backend(env, platform.system(), os.path.exists)


def _by_environment(
    env: Mapping[str, str], system: str, path_exists: Callable[[str], bool]
) -> tuple[str, str]:
    if path_exists("/.dockerenv"):
        return DOCKER, "a Docker container (/.dockerenv exists) with a Celery broker"
    docker_env = (env.get("DOCKER_ENV") or "").strip().lower()
    if docker_env and docker_env not in _FALSE:
        return DOCKER, "a Docker container (DOCKER_ENV is set) with a Celery broker"
    if system == "Windows":
        return NATIVE, "Windows host: the native worker uses the host's network"
    if system in ("Linux", "Darwin"):
        return DOCKER, f"{system} host"
    return DOCKER, f"unknown system {system!r}, defaulting to docker"
