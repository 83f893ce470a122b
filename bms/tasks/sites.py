"""Which sites a task may be queued for, and which site work on known devices belongs to.

A site exists once something names it: this installation's own BACNET_SITE, a worker that has
heartbeated for it, or a device discovered on it. Queueing for any other name would leave a task
that no worker ever claims, so it is refused with the list of sites that do exist.
"""

from __future__ import annotations

import re
from collections import Counter

from django.conf import settings

from bms.devices.models import BACnetDevice
from bms.tasks import queue
from bms.tasks.models import BACnetTask, WorkerHeartbeat

# The site becomes part of a Celery queue name and is shown in URLs: keep it plain.
SITE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
SITE_CHARACTERS = "letters, digits, '_', '.', '-' (at most 100)"


class UnknownSite(ValueError):
    """A site that is ill-formed, that no worker, device or setting names, or that is not where
    the work asked for belongs."""


def known_sites() -> list[str]:
    """This installation's site first, then every other site of a worker or device, sorted."""
    others = set(WorkerHeartbeat.objects.values_list("site", flat=True).distinct())
    others |= set(BACnetDevice.objects.values_list("site", flat=True).distinct())
    others.discard(settings.BACNET_SITE)
    return [settings.BACNET_SITE, *sorted(others)]


def workers_alive() -> Counter[str]:
    """How many workers of each site heartbeated within BACNET_WORKER_ALIVE_SECONDS."""
    workers = queue.alive_workers(settings.BACNET_WORKER_ALIVE_SECONDS)
    return Counter(workers.values_list("site", flat=True))


def shown_sites() -> list[str]:
    """Sites worth a column on task lists: the known ones and any a task was queued for."""
    sites = known_sites()
    queued = BACnetTask.objects.exclude(site__in=sites).values_list("site", flat=True)
    return sites + sorted(set(queued))


def check_site(site: str | None) -> str:
    """The site to queue for: `site` if it exists, BACNET_SITE when none is given."""
    if not site:
        return str(settings.BACNET_SITE)
    if not SITE_PATTERN.match(site):
        raise UnknownSite(f"site {site[:100]!r} is not a site name: use {SITE_CHARACTERS}")
    sites = known_sites()
    if site not in sites:
        raise UnknownSite(f"there is no site {site!r}; known sites: {', '.join(sites)}")
    return site


def site_of_devices(device_instances: list[int] | None, site: str | None) -> str:
    """The site of work on these device instances: `site` when given, otherwise the one site
    that knows all of them (BACNET_SITE when none does, as before there were sites)."""
    if site or not device_instances:
        return check_site(site)
    wanted = set(device_instances)
    holders: dict[str, set[int]] = {}
    rows = BACnetDevice.objects.filter(device_instance__in=wanted)
    for row_site, instance in rows.values_list("site", "device_instance"):
        holders.setdefault(row_site, set()).add(instance)
    complete = sorted(name for name, found in holders.items() if found == wanted)
    if len(complete) == 1:
        return complete[0]
    if len(holders) <= 1:
        # The worker of the one site that knows any of them reports the rest as unknown.
        return next(iter(holders), str(settings.BACNET_SITE))
    named = ", ".join(sorted(holders))
    if complete:
        raise UnknownSite(
            f"devices {sorted(wanted)} are known on several sites ({named}): give the site"
        )
    raise UnknownSite(
        f"devices {sorted(wanted)} are not all on one site (found on {named}): "
        "queue one task per site"
    )


def site_of_point(point_id: int, site: str | None) -> str:
    """The site of a write to this point: its device's, which `site`, when given, must be. For a
    point that does not exist, `site` or BACNET_SITE (the backend then refuses the point)."""
    point_site = (
        BACnetDevice.objects.filter(points__id=point_id).values_list("site", flat=True).first()
    )
    if point_site is None:
        return check_site(site)
    if site and site != point_site:
        raise UnknownSite(
            f"point {point_id} is on site {point_site!r}, not {site!r}: "
            "a write goes to its point's site"
        )
    return point_site
