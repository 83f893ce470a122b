"""The alarm console: alarms waiting for an acknowledgement first, then acknowledged active ones,
then history; filtered by GET parameters (stable URLs), live over the `alarms` group; one
alarm's transitions; an operator's acknowledgement with a comment (bms.alarms.services)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.alarms import queries
from bms.alarms.models import Alarm
from bms.alarms.services import AlarmRefused, request_acknowledgement
from bms.tasks.sites import known_sites
from bms.web.views.common import done, operator_action, refused

PAGE_SIZE = 50
PRIORITY_BANDS = [("0-63", "0-63 (life safety)"), ("64-127", "64-127"), ("128-255", "128-255")]


def chosen_filter(params: dict[str, str], sites: list[str]) -> queries.AlarmFilter:
    """The console's filters from GET parameters; what is not understood is ignored."""
    state = params.get("state", "")
    low, _, high = params.get("priority", "").partition("-")
    device = params.get("device", "")
    return queries.AlarmFilter(
        state=state if state in queries.STATE_FILTERS else "",
        priority_min=int(low) if low.isdigit() and high.isdigit() else None,
        priority_max=int(high) if low.isdigit() and high.isdigit() else None,
        site=params.get("site", "") if params.get("site", "") in sites else "",
        device=int(device) if device.isdigit() and len(device) <= 7 else None,
    )


@login_required
def alarm_console(request: HttpRequest) -> HttpResponse:
    sites = known_sites()
    chosen = chosen_filter(request.GET.dict(), sites)
    page = Paginator(queries.console(chosen), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/alarms.html",
        {
            "page": page,
            "chosen": chosen,
            "states": queries.STATE_FILTERS,
            "priority_bands": PRIORITY_BANDS,
            "priority_filter": request.GET.get("priority", "")
            if chosen.priority_min is not None
            else "",
            "sites": sites,
            "show_site": len(sites) > 1,
            "site_filter": chosen.site,
            "query": _query_without_page(request),
        },
    )


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
def alarm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(
        Alarm.objects.select_related("point__device", "virtual_object"), pk=pk
    )
    transitions = alarm.transitions.select_related("acked_by").order_by("-time_stamp", "-id")
    return render(request, "web/alarm_detail.html", {"alarm": alarm, "transitions": transitions})


@operator_action
def alarm_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(Alarm, pk=pk)
    back = _safe_back(request, reverse("web:alarms"))
    comment = request.POST.get("comment", "").replace("\x00", "")[:1000]
    try:
        request_acknowledgement(alarm, request.user, comment)
    except AlarmRefused as refusal:
        return refused(request, str(refusal), back)
    return done(request, f"Acknowledged {alarm.name or alarm.rule}.", back)


def _safe_back(request: HttpRequest, default: str) -> str:
    """Back to the console as it was filtered: only a path of ours, never another host."""
    back = request.POST.get("next", "")
    return back if back.startswith("/alarms/") and "//" not in back else default
