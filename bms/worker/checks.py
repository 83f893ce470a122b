"""System checks for the BACNET_* settings: every mistake listed at start-up, with its fix.

Registered by the worker app's ready() (bms.worker.apps), in every process that loads Django.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from bms.bacnet.commanding import MAX_INSTANCE
from bms.bacnet.config import parse_address, parse_host_port
from bms.bacnet.errors import ConfigurationError
from bms.tasks.sites import SITE_PATTERN
from bms.worker.monitoring_checks import check_monitoring_settings


@register("bacnet")
def check_bacnet_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        *_check_address_if_set(),
        *_check_identity(),
        *_check_client(),
        *_check_backend(),
        *check_monitoring_settings(),
    ]


@register("bacnet", deploy=True)
def check_bacnet_address_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Only with `check --deploy`: the web process runs fine without an address, only the worker
    needs one (and refuses to start without it), so every command warning about it is noise."""
    if settings.BACNET_ADDRESS:
        return []
    return [
        Warning(
            "BACNET_ADDRESS is not set; the BACnet worker will refuse to start.",
            hint="Set the worker's interface address with prefix length, e.g. "
            "BACNET_ADDRESS=192.168.1.10/24 (it is never guessed).",
            id="bms.W001",
        )
    ]


def _check_address_if_set() -> list[CheckMessage]:
    if not settings.BACNET_ADDRESS:
        return []
    try:
        parse_address(settings.BACNET_ADDRESS)
    except ConfigurationError as exc:
        return [
            Error(
                f"BACNET_ADDRESS is not usable: {exc}",
                hint="Use host/prefix with an optional port: 192.168.1.10/24 or 127.0.0.1/8:47808.",
                id="bms.E001",
            )
        ]
    return []


def _check_identity() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not 0 <= settings.BACNET_DEVICE_ID <= MAX_INSTANCE:
        errors.append(
            Error(
                f"BACNET_DEVICE_ID={settings.BACNET_DEVICE_ID} is outside 0..{MAX_INSTANCE}.",
                id="bms.E002",
            )
        )
    if not settings.BACNET_DEVICE_NAME.strip():
        errors.append(Error("BACNET_DEVICE_NAME must not be empty.", id="bms.E003"))
    if not SITE_PATTERN.match(settings.BACNET_SITE):
        errors.append(
            Error(
                f"BACNET_SITE={settings.BACNET_SITE!r} may only hold letters, digits, "
                "'_', '.', '-'.",
                hint="It names the site's Celery queue (bacnet.<site>).",
                id="bms.E004",
            )
        )
    return errors


def _check_client() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.BACNET_TIMEOUT <= 0:
        errors.append(
            Error(f"BACNET_TIMEOUT={settings.BACNET_TIMEOUT} must be > 0.", id="bms.E005")
        )
    if settings.BACNET_RETRIES < 0:
        errors.append(
            Error(f"BACNET_RETRIES={settings.BACNET_RETRIES} must be >= 0.", id="bms.E006")
        )
    if settings.BACNET_DISCOVERY_CACHE_SECONDS < 0:
        errors.append(
            Error(
                f"BACNET_DISCOVERY_CACHE_SECONDS={settings.BACNET_DISCOVERY_CACHE_SECONDS} "
                "must be >= 0 (0 turns the cache off).",
                id="bms.E007",
            )
        )
    if settings.BACNET_TASK_LEASE_SECONDS <= 0:
        errors.append(
            Error(
                f"BACNET_TASK_LEASE_SECONDS={settings.BACNET_TASK_LEASE_SECONDS} must be > 0.",
                id="bms.E008",
            )
        )
    if settings.BACNET_WORKER_ALIVE_SECONDS <= 0:
        errors.append(
            Error(
                f"BACNET_WORKER_ALIVE_SECONDS={settings.BACNET_WORKER_ALIVE_SECONDS} must be > 0.",
                id="bms.E010",
            )
        )
    return errors + _check_foreign_device()


def _check_foreign_device() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.BACNET_FOREIGN_BBMD:
        try:
            parse_host_port(settings.BACNET_FOREIGN_BBMD, what="BBMD address")
        except ConfigurationError as exc:
            errors.append(
                Error(
                    f"BACNET_FOREIGN_BBMD: {exc}.",
                    hint="The BBMD's IPv4 address, e.g. 192.168.2.1 or 192.168.2.1:47808.",
                    id="bms.E011",
                )
            )
    if not 1 <= settings.BACNET_FOREIGN_TTL <= 65535:
        errors.append(
            Error(
                f"BACNET_FOREIGN_TTL={settings.BACNET_FOREIGN_TTL} must be 1..65535 seconds.",
                id="bms.E012",
            )
        )
    return errors


def _check_backend() -> list[CheckMessage]:
    if settings.BACNET_BACKEND == "docker" and not settings.CELERY_BROKER_URL:
        return [
            Error(
                "BACNET_BACKEND is docker but no Celery broker is configured.",
                hint="Set REDIS_URL (or CELERY_BROKER_URL), or use BACNET_BACKEND=native.",
                id="bms.E009",
            )
        ]
    return []
