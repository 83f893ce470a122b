"""Finding things: a point search across devices, and a tree of sites, devices and objects.
Filters, sorts and pages are GET parameters, so every view has a URL and works without JS."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bms.devices import search
from bms.devices.models import BACnetDevice
from bms.tasks import sites

PAGE_SIZE = 100


@login_required
def point_search(request: HttpRequest) -> HttpResponse:
    """/points/?q=fan&type=binary-output&commandable=yes&site=north&sort=-name&page=2"""
    shown_sites = sites.shown_sites()
    site = request.GET.get("site", "")
    sort = search.Sort.parse(request.GET.get("sort", ""), search.POINT_SORTS, "device")
    found = search.points(
        text=request.GET.get("q", ""),
        object_type=request.GET.get("type", ""),
        commandable=request.GET.get("commandable", ""),
        site=site if site in shown_sites else "",
        sort=sort,
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/point_search.html",
        {
            "page": page,
            "sort": sort,
            "types": search.POINT_TYPES,
            "sites": shown_sites,
            "show_site": len(shown_sites) > 1,
            "site_filter": site if site in shown_sites else "",
        },
    )


@login_required
def tree(request: HttpRequest) -> HttpResponse:
    """/tree/?site=default&device=3: every site, the open site's devices, the open device's
    objects (one level at a time, so a thousand devices make a page, not a hundred thousand)."""
    all_sites = sites.known_sites()
    site = request.GET.get("site", "")
    if site not in all_sites:
        site = all_sites[0] if len(all_sites) == 1 else ""
    # No site open (several sites, none chosen): no device matches the empty site name.
    devices = BACnetDevice.objects.filter(site=site).annotate(point_count=Count("points"))
    wanted = request.GET.get("device", "")
    device = devices.filter(pk=int(wanted)).first() if _is_id(wanted) else None
    counts = _device_counts()
    return render(
        request,
        "web/tree.html",
        {
            "sites": [(name, counts.get(name, 0)) for name in all_sites],
            "open_site": site,
            "devices": devices,
            "open_device": device,
            "points": device.points.order_by("object_type", "instance") if device else [],
        },
    )


def _device_counts() -> dict[str, int]:
    rows = BACnetDevice.objects.order_by().values_list("site").annotate(count=Count("id"))
    return dict(rows)


def _is_id(text: str) -> bool:
    return text.isdigit() and len(text) < 10  # a longer number overflows SQLite's integers
