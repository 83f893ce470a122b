"""Tasks: a filterable list and one task's parameters, progress, result and error, live. (The
audit log is bms.web.views.audit's.)"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from bms.tasks import sites
from bms.tasks.describe_schedules import shown_parameters
from bms.tasks.models import BACnetTask

PAGE_SIZE = 50


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = BACnetTask.objects.all()
    kind = request.GET.get("type", "")
    status = request.GET.get("status", "")
    site = request.GET.get("site", "")
    shown_sites = sites.shown_sites()
    if kind in dict(BACnetTask.TASK_TYPES):
        tasks = tasks.filter(task_type=kind)
    if status in dict(BACnetTask.STATUS_CHOICES):
        tasks = tasks.filter(status=status)
    if site in shown_sites:
        tasks = tasks.filter(site=site)
    show_polls = request.GET.get("polls") == "1"
    if not show_polls:
        tasks = without_polls(tasks)
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/tasks.html",
        {
            "page": page,
            "types": BACnetTask.TASK_TYPES,
            "statuses": BACnetTask.STATUS_CHOICES,
            "sites": shown_sites,
            "show_site": len(shown_sites) > 1,
            "type_filter": kind,
            "status_filter": status,
            "site_filter": site if site in shown_sites else "",
            "show_polls": show_polls,
            "live_groups": "tasks",
        },
    )


def without_polls(tasks: QuerySet[BACnetTask]) -> QuerySet[BACnetTask]:
    """Tasks but the worker's scheduled polls (one every BACNET_POLL_SECONDS would bury what
    people asked for). A task without the key is kept: NOT (NULL = true) would drop it."""
    return tasks.filter(Q(parameters__scheduled__isnull=True) | Q(parameters__scheduled=False))


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(BACnetTask, pk=pk)
    return render(
        request,
        "web/task_detail.html",
        {
            "task": task,
            "parameters": shown_parameters(task),
            "show_site": len(sites.shown_sites()) > 1,
            "live_groups": "tasks",
        },
    )
