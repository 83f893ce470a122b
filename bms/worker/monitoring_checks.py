"""System checks for the monitoring and device-health settings (issue 13).

The worker builds its HealthPolicy and COV options from these at start; a bad value would stop
it there with a bare ValueError. Listed by `manage.py check` instead, each with what is allowed.
Called from bms.worker.checks.check_bacnet_settings, so one check run lists every mistake.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.checks import CheckMessage, Error

from bms.bacnet.health import HealthPolicy
from bms.devices.monitoring import MIN_POLL_SECONDS

# The first retry of an unreachable device (HealthPolicy.retry_first): the longest retry may
# not be shorter than that.
RETRY_FIRST_SECONDS = HealthPolicy.retry_first


def check_monitoring_settings() -> list[CheckMessage]:
    return [
        *_check_monitoring(),
        *_check_health(),
    ]


def _error(name: str, rule: str, error_id: str, hint: str | None = None) -> Error:
    value = getattr(settings, name)
    return Error(f"{name}={value!r} {rule}.", hint=hint, id=error_id)


def _at_least(value: float, low: float) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value >= low


def _finite_above(value: float, low: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > low


def _check_monitoring() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not _at_least(settings.BACNET_MONITOR_POLL_SECONDS, MIN_POLL_SECONDS):
        errors.append(
            _error(
                "BACNET_MONITOR_POLL_SECONDS",
                f"must be a whole number of seconds >= {MIN_POLL_SECONDS}",
                "bms.E020",
            )
        )
    if not _finite_above(settings.BACNET_MONITOR_RELOAD_SECONDS, 0):
        errors.append(
            _error(
                "BACNET_MONITOR_RELOAD_SECONDS",
                "must be a number of seconds > 0",
                "bms.E021",
                hint="How often the worker re-reads which devices exist (changes of monitoring "
                "settings reach it within a second anyway); 60 is a good value.",
            )
        )
    if not _at_least(settings.BACNET_COV_LIFETIME, 0):
        errors.append(
            _error(
                "BACNET_COV_LIFETIME",
                "must be >= 0 seconds (0 asks for subscriptions that never expire)",
                "bms.E022",
            )
        )
    if not _finite_above(settings.BACNET_SHUTDOWN_SECONDS, 0):
        errors.append(
            _error("BACNET_SHUTDOWN_SECONDS", "must be a number of seconds > 0", "bms.E023")
        )
    return errors


def _check_health() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not _at_least(settings.BACNET_HEALTH_FAILURES, 1):
        errors.append(
            _error(
                "BACNET_HEALTH_FAILURES",
                "must be >= 1 (failed requests in a row before a device is unreachable)",
                "bms.E024",
            )
        )
    if not _at_least(settings.BACNET_OFFLINE_AFTER_SECONDS, 0):
        errors.append(
            _error(
                "BACNET_OFFLINE_AFTER_SECONDS",
                "must be >= 0 (seconds unreachable before a device is offline)",
                "bms.E025",
            )
        )
    if not _at_least(settings.BACNET_HEALTH_RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS):
        errors.append(
            _error(
                "BACNET_HEALTH_RETRY_MAX_SECONDS",
                f"must be >= {RETRY_FIRST_SECONDS:g} seconds, the first retry of an "
                "unreachable device (each retry waits twice the last, up to this)",
                "bms.E026",
            )
        )
    return errors
