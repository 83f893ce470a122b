"""How the pages and the API read alarms: the console's order, its filters and the counts.

One home for "active" and "unacknowledged", so the navigation bar, the console and the API
count the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from bms.alarms.models import Alarm
from bms.devices.models import BACnetDevice

EVENT_STATES = ("normal", "offnormal", "high-limit", "low-limit", "fault")
STATE_FILTERS = ("active", "unacknowledged", "acknowledged", "normal")
# acked_transitions is a JSON list of three booleans; an index lookup works on SQLite and
# PostgreSQL alike (JSON containment does not).
UNACKNOWLEDGED = (
    Q(acked_transitions__0=False) | Q(acked_transitions__1=False) | Q(acked_transitions__2=False)
)
ACTIVE = ~Q(event_state="normal")


@dataclass(frozen=True)
class AlarmFilter:
    """What the console and GET /api/alarms filter by; empty means any."""

    state: str = ""  # one of STATE_FILTERS
    priority_min: int | None = None
    priority_max: int | None = None
    site: str = ""
    device: int | None = None  # the BACnet device instance of the source


def counts() -> dict[str, int]:
    """Active alarms, and alarms waiting for an acknowledgement (active or not): one query,
    since every alarm change announces them (the worker stores hundreds a second)."""
    found = Alarm.objects.aggregate(
        active=Count("id", filter=ACTIVE), unacknowledged=Count("id", filter=UNACKNOWLEDGED)
    )
    return {"active": found["active"], "unacknowledged": found["unacknowledged"]}


def console(chosen: AlarmFilter) -> QuerySet[Alarm]:
    """Unacknowledged first, then acknowledged active, then the rest (history); the newest
    transition first within each."""
    rank = Case(
        When(UNACKNOWLEDGED, then=Value(0)),
        When(ACTIVE, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    rows = filtered(Alarm.objects.select_related("point__device", "virtual_object"), chosen)
    return rows.annotate(rank=rank).order_by("rank", "-last_transition_at", "-id")


def filtered(rows: QuerySet[Alarm], chosen: AlarmFilter) -> QuerySet[Alarm]:
    if chosen.state == "active":
        rows = rows.filter(ACTIVE)
    elif chosen.state == "unacknowledged":
        rows = rows.filter(UNACKNOWLEDGED)
    elif chosen.state == "acknowledged":
        rows = rows.filter(ACTIVE).exclude(UNACKNOWLEDGED)
    elif chosen.state == "normal":
        rows = rows.filter(event_state="normal")
    if chosen.priority_min is not None:
        rows = rows.filter(priority__gte=chosen.priority_min)
    if chosen.priority_max is not None:
        rows = rows.filter(priority__lte=chosen.priority_max)
    if chosen.site:
        rows = rows.filter(_of_site(chosen.site))
    if chosen.device is not None:
        rows = rows.filter(device_instance=chosen.device)
    return rows


def _of_site(site: str) -> Q:
    """Alarms of the site's remote devices: by the point when the alarm has one, else by the
    device instance (a rule's or a comm-loss alarm names only that; an instance used on two
    sites matches both)."""
    instances = BACnetDevice.objects.filter(site=site).values("device_instance")
    return Q(point__device__site=site) | Q(point__isnull=True, device_instance__in=instances)
