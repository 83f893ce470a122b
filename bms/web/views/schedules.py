"""Schedules: the week-grid editor for device 8888's schedules (saved at once, through
bms.schedules.services) and for remote devices' (the last read shown, a save queues a write
task), and the device-management actions of a remote device (admins, password each time)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from bms.accounts.roles import ADMIN, can_operate, has_role
from bms.devices.models import BACnetDevice, WriteAudit
from bms.schedules import services
from bms.schedules.models import Schedule
from bms.tasks import schedule_submission
from bms.tasks.models import BACnetTask
from bms.tasks.submission import Refused
from bms.web.schedule_forms import ScheduleSettingsForm
from bms.web.schedule_grid import GridError, grid_days, week_from_post
from bms.web.views.common import done, operator_action, refused

AUDIT_ROWS = 10


@login_required
def schedule_detail(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(Schedule.objects.prefetch_related("targets"), instance=instance)
    if request.method != "POST":
        return virtual_page(request, row, row.weekly)
    if not can_operate(request.user):
        raise PermissionDenied("This needs the operator role; your account can only read.")
    week: list[Any] = row.weekly
    try:
        week = week_from_post(request.POST, row.kind)
        services.update_schedule(
            row, {"weekly": week}, user=request.user.get_username(), source="operator"
        )
    except (GridError, services.ScheduleError) as exc:
        return virtual_page(request, row, week, error=str(exc), status=400)
    return done(request, f"Saved the week of {row}.", reverse("web:schedule", args=[instance]))


def virtual_page(
    request: HttpRequest,
    row: Schedule,
    week: list[Any],
    error: str = "",
    status: int = 200,
    settings: ScheduleSettingsForm | None = None,
) -> HttpResponse:
    """A schedule of device 8888: its week grid, its settings form (operators), its changes."""
    audits = WriteAudit.objects.filter(object_ref=f"schedule,{row.instance}")[:AUDIT_ROWS]
    context = {
        "schedule": row,
        "kind": row.kind,
        "days": grid_days(week),
        "exceptions": row.exceptions,
        "audits": audits,
        "error": error,
        "settings": settings or ScheduleSettingsForm.of(row),
        "section": "schedules",
    }
    return render(request, "web/schedule.html", context, status=status)


# ---- remote devices --------------------------------------------------------------------------


def _last_read(device: BACnetDevice, object_ref: str) -> BACnetTask | None:
    return (
        BACnetTask.objects.filter(
            site=device.site,
            task_type__in=("read_schedule", "write_schedule"),
            status="completed",
            parameters__device_id=device.device_instance,
            parameters__object=object_ref,
        )
        .order_by("-completed_at")
        .first()
    )


OBJECT_PATTERN = re.compile(r"^(schedule|calendar),[0-9]{1,7}$")


@login_required
def open_remote(request: HttpRequest, pk: int) -> HttpResponse:
    """The device page's "open a schedule or calendar" form (a GET naming the object)."""
    device = get_object_or_404(BACnetDevice, pk=pk)
    wanted = request.GET.get("object", "").strip()
    if not OBJECT_PATTERN.match(wanted):
        return refused(
            request, f"{wanted!r} is not like schedule,1", reverse("web:device", args=[pk])
        )
    return redirect("web:remote_schedule", pk=device.pk, object_ref=wanted)


@login_required
def remote_schedule(request: HttpRequest, pk: int, object_ref: str) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    last = _last_read(device, object_ref)
    result = (last.result if last else None) or {}
    context = {
        "device": device,
        "object_ref": object_ref,
        "read": result,
        "kind": result.get("kind", ""),
        "days": grid_days(result.get("weekly") or []),
        "exceptions": result.get("exceptions") or [],
        "audits": WriteAudit.objects.filter(
            object_ref=f"device,{device.device_instance} {object_ref}"
        )[:AUDIT_ROWS],
        "section": "device",
    }
    return render(request, "web/remote_schedule.html", context)


@operator_action
def remote_schedule_read(request: HttpRequest, pk: int, object_ref: str) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    back = reverse("web:remote_schedule", args=[pk, object_ref])
    try:
        task = schedule_submission.read_remote_schedule(
            device, object_ref, user=request.user.get_username()
        )
    except Refused as exc:
        return refused(request, str(exc), back)
    return done(request, f"Reading {object_ref} (task {task.id}).", back, task_id=task.id)


@operator_action
def remote_schedule_write(request: HttpRequest, pk: int, object_ref: str) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    back = reverse("web:remote_schedule", args=[pk, object_ref])
    kind = request.POST.get("kind", "")
    try:
        week = week_from_post(request.POST, kind)
        task = schedule_submission.write_remote_schedule(
            device,
            object_ref,
            kind or None,
            {"weekly": week},
            user=request.user.get_username(),
            source="operator",
        )
    except (GridError, Refused) as exc:
        return refused(request, str(exc), back)
    return done(
        request, f"Writing the week of {object_ref} (task {task.id}).", back, task_id=task.id
    )


# ---- device management (admins) ----------------------------------------------------------------


def _require_admin(request: HttpRequest) -> None:
    if not has_role(request.user, ADMIN):
        raise PermissionDenied("This needs the admin role.")


@login_required
def device_manage(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    _require_admin(request)
    if request.method != "POST":
        return render(request, "web/device_manage.html", {"device": device, "section": "device"})
    back = reverse("web:device_manage", args=[pk])
    try:
        task = _queue_action(request, device)
    except Refused as exc:
        return refused(request, str(exc), back)
    return done(request, f"Queued task {task.id}.", back, task_id=task.id)


def _queue_action(request: HttpRequest, device: BACnetDevice) -> BACnetTask:
    post, user = request.POST, request.user.get_username()
    action = post.get("action")
    if action == "time_sync":
        return schedule_submission.synchronize_time(
            device, None, post.get("utc") == "1", user=user, source="operator"
        )
    if action == "time_sync_site":
        return schedule_submission.synchronize_time(
            None, device.site, post.get("utc") == "1", user=user, source="operator"
        )
    password = post.get("password", "")
    if action == "dcc":
        minutes = post.get("minutes", "").strip()
        if minutes and not minutes.isdigit():
            raise Refused("the duration is a whole number of minutes")
        return schedule_submission.communication_control(
            device,
            post.get("state", ""),
            int(minutes) if minutes else None,
            password,
            user=user,
            source="operator",
        )
    if action == "reinitialize":
        return schedule_submission.reinitialize(
            device, post.get("state", ""), password, user=user, source="operator"
        )
    raise Refused(f"unknown action {action!r}")
