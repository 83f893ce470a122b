"""A point's page: its value and trend, the write form, and a property browser (every property
of its object as last read, its priority array and commanding properties), with the action that
reads them again. Reading is a task: no request here waits on BACnet."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.bacnet import commanding
from bms.devices.models import BACnetPoint
from bms.devices.services import default_write_priority
from bms.tasks import submission
from bms.tasks.models import BACnetTask
from bms.web.views import trends
from bms.web.views.common import done, operator_action, refused

# What a commandable point's card shows besides its priority array, as BACnet names them.
COMMANDING_PROPERTIES = (
    ("out-of-service", "Out of service"),
    ("relinquish-default", "Relinquish default"),
    ("current-command-priority", "Current command priority"),
    ("min-pres-value", "Minimum"),
    ("max-pres-value", "Maximum"),
)


@login_required
def point_detail(request: HttpRequest, pk: int) -> HttpResponse:
    point = get_object_or_404(BACnetPoint.objects.select_related("device"), pk=pk)
    return render(
        request,
        "web/point_detail.html",
        {
            "point": point,
            "object_ref": f"{point.object_type},{point.instance}",
            "audits": point.write_audits.all()[:20],
            "priority_rows": priority_rows(point.properties),
            "commanding": commanding_rows(point.properties),
            "properties": sorted(point.properties.items()),
            "property_errors": sorted(point.property_errors.items()),
            "read_task": last_read(point),
            "default_priority": default_write_priority(),
            "live_groups": f"tasks,device-{point.device_id}",
            "trend_choices": trends.point_choices(point),
        },
    )


@operator_action
def point_read_all(request: HttpRequest, pk: int) -> HttpResponse:
    point = get_object_or_404(BACnetPoint.objects.select_related("device"), pk=pk)
    back = reverse("web:point", args=[pk])
    try:
        task = submission.read_object(point, user=request.user.get_username())
    except submission.Refused as exc:
        return refused(request, str(exc), back)
    return done(request, f"Read all properties: task {task.id} queued", back, task_id=task.id)


@operator_action
def point_backfill(request: HttpRequest, pk: int) -> HttpResponse:
    """A remote trend log's records read into history (the backfill_trendlog task)."""
    point = get_object_or_404(BACnetPoint.objects.select_related("device"), pk=pk)
    back = reverse("web:point", args=[pk])
    try:
        task = submission.backfill_trendlog(point, user=request.user.get_username())
    except submission.Refused as exc:
        return refused(request, str(exc), back)
    return done(request, f"Trend log backfill: task {task.id} queued", back, task_id=task.id)


def priority_rows(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The 16 levels of a priority array as read, the winning one marked; [] if none was read."""
    array = properties.get("priority-array")
    if not isinstance(array, list):
        return []
    active = commanding.active_priority(array)
    return [
        {"level": level, "value": value, "wins": level == active}
        for level, value in enumerate(array, start=1)
    ]


def commanding_rows(properties: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of the commanding properties the object has."""
    return [
        (label, properties[name]) for name, label in COMMANDING_PROPERTIES if name in properties
    ]


def last_read(point: BACnetPoint) -> BACnetTask | None:
    """The newest read_object task of this point's object (pending, running or finished)."""
    return (
        BACnetTask.objects.filter(
            task_type="read_object",
            site=point.device.site,
            parameters__device_id=point.device.device_instance,
            parameters__object=f"{point.object_type},{point.instance}",
        )
        .order_by("-created_at")
        .first()
    )
