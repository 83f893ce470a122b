"""Devices (seed 000's device_list, live), device detail, and their actions; the point page is
bms.web.views.points'."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from bms.devices import search
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.devices.services import default_write_priority
from bms.tasks import sites, submission
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.models import BACnetTask
from bms.web.forms import DiscoverForm, WriteForm, first_error
from bms.web.views.common import done, operator_action, refused
from bms.web.views.tasks import without_polls

RECENT_TASKS = 10
PAGE_SIZE = 50  # devices on the devices page
POINT_PAGE_SIZE = 100  # points on a device's page (a large controller has thousands)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:devices")


@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    """Devices and recent tasks, of one site with ?site= (as the task list filters); the
    devices found by ?q= (name, description, vendor, model, address, instance), ?state=online
    or offline, sorted by ?sort= (a column, "-" first for descending), a page at a time
    (?page=); the counts above the table are of every device found."""
    tasks = BACnetTask.objects.all()
    site = request.GET.get("site", "")
    shown_sites = sites.shown_sites()
    if site in shown_sites:
        tasks = tasks.filter(site=site)
    sort = search.Sort.parse(request.GET.get("sort", ""), search.DEVICE_SORTS, "instance")
    filters = {
        "text": request.GET.get("q", ""),
        "site": site if site in shown_sites else "",
        "state": request.GET.get("state", ""),
    }
    totals = search.device_totals(**filters)
    paginator = Paginator(search.devices(**filters, sort=sort), PAGE_SIZE)
    paginator.count = totals.devices  # counted once, with the totals (not a second COUNT)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "web/devices.html",
        {
            "page": page,
            "devices": page.object_list,
            "sort": sort,
            "totals": totals,
            "recent_tasks": without_polls(tasks)[:RECENT_TASKS],
            "backend_status": get_bacnet_backend().get_status(),
            "form": DiscoverForm(),
            "sites": shown_sites,
            "show_site": len(shown_sites) > 1,
            "site_filter": site if site in shown_sites else "",
            "live_groups": "tasks,devices",
            "discovery_cache_seconds": settings.BACNET_DISCOVERY_CACHE_SECONDS,
        },
    )


@operator_action
def trigger_discovery(request: HttpRequest) -> HttpResponse:
    back = reverse("web:devices")
    form = DiscoverForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    try:
        task = submission.discover(**form.cleaned_data, user=request.user.get_username())
    except submission.Refused as exc:
        return refused(request, str(exc), back)
    return done(
        request,
        f"Discovery task {task.id} queued for site {task.site}",
        back,
        task_id=task.id,
        site=task.site,
    )


@login_required
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    tasks = BACnetTask.objects.filter(
        site=device.site, parameters__device_id=device.device_instance
    )
    point_sort = search.Sort.parse(request.GET.get("sort", ""), search.POINT_SORTS, "object")
    points = search.points(
        text=request.GET.get("q", ""),
        object_type=request.GET.get("type", ""),
        device=device,
        sort=point_sort,
    )
    return render(
        request,
        "web/device_detail.html",
        {
            "device": device,
            "points": Paginator(points, POINT_PAGE_SIZE).get_page(request.GET.get("page")),
            "point_count": device.points.count(),
            "point_sort": point_sort,
            "point_types": search.POINT_TYPES,
            "tasks": tasks[:5],
            "default_priority": default_write_priority(),
            "show_site": len(sites.shown_sites()) > 1,
            # "devices": its health badge follows the device's events (live.js)
            "live_groups": f"tasks,devices,device-{device.pk}",
        },
    )


@operator_action
def device_read_points(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    task = submission.read_points(
        device.device_instance, site=device.site, user=request.user.get_username()
    )
    return done(
        request,
        f"Read points task {task.id} queued",
        reverse("web:device", args=[pk]),
        task_id=task.id,
    )


@operator_action
def device_collect(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    task = submission.collect(
        [device.device_instance], site=device.site, user=request.user.get_username()
    )
    return done(
        request, f"Collect task {task.id} queued", reverse("web:device", args=[pk]), task_id=task.id
    )


@operator_action
def point_write(request: HttpRequest, pk: int) -> HttpResponse:
    point = get_object_or_404(BACnetPoint.objects.select_related("device"), pk=pk)
    back = reverse("web:device", args=[point.device_id])
    form = WriteForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    relinquish = form.cleaned_data["relinquish"]
    try:
        # The text as typed: the write reads it with the one vocabulary every path uses.
        task = submission.write_point(
            point,
            None if relinquish else form.cleaned_data["value"],
            form.cleaned_data["priority"],
            relinquish,
            user=request.user.get_username(),
            source="operator",
        )
    except submission.Refused as exc:
        return refused(request, str(exc), back)
    verb = "Relinquish" if relinquish else "Write"
    return done(request, f"{verb} task {task.id} queued", back, task_id=task.id)
