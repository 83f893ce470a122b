"""Monitoring on the pages: health badges, COV/poll counts, and the settings of a device or a
point with what they inherit, all from the domain service bms.devices.monitoring."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from bms.bacnet import cov_plan
from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint

register = template.Library()

# The badge colours of the task states: online green, unreachable amber, offline red.
HEALTH_BADGES = {"online": "completed", "unreachable": "pending", "offline": "failed"}
RECENT_EVENTS = 5
NO_COUNTS = {"cov": 0, "poll": 0, "unwatched": 0}


@register.filter
def health_badge(health: str) -> str:
    return HEALTH_BADGES.get(health, "failed")


@register.simple_tag
def watch_counts(devices: Iterable[BACnetDevice]) -> dict[int, dict[str, int]]:
    """Per device id, its monitored points by COV, by polling and unwatched (one query)."""
    return monitoring.watch_counts(list(devices))


@register.filter
def counts_of(counts: dict[int, dict[str, int]], device_id: int) -> dict[str, int]:
    return counts.get(device_id, NO_COUNTS)


@register.inclusion_tag("web/_monitoring_form.html", takes_context=True)
def monitoring_form(
    context: template.Context, own: BACnetDevice | BACnetPoint, inherited: Any, action: str
) -> dict[str, Any]:
    return {
        "csrf_token": context.get("csrf_token"),
        "own": own,
        "inherited": inherited,
        "action": action,
        "modes": cov_plan.MODES,
        "min_poll": monitoring.MIN_POLL_SECONDS,
        "max_poll": monitoring.MAX_POLL_SECONDS,
    }


@register.simple_tag
def device_monitoring(device: BACnetDevice) -> dict[str, Any]:
    defaults = monitoring.MonitorDefaults.from_settings()
    return {
        "own": device,
        "inherited": defaults,  # what "inherit" means for a device: the site's defaults
        "effective": monitoring.device_effective(device, defaults),
        "counts": monitoring.watch_counts([device], defaults)[device.id],
        "events": list(device.health_events.order_by("-time", "-id")[:RECENT_EVENTS]),
        "refused": sorted(device.cov_refused.items()),
    }


@register.simple_tag
def point_monitoring(point: BACnetPoint) -> dict[str, Any]:
    defaults = monitoring.MonitorDefaults.from_settings()
    setting = monitoring.effective(point, point.device, defaults)
    return {
        "own": point,
        "inherited": monitoring.device_effective(point.device, defaults),
        "effective": setting,
        "watched_by": monitoring.watched_by(point, point.device, setting),
    }
