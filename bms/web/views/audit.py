"""The audit log: writes (accepted and refused) and configuration changes with sign-ins, each
filterable and paged by GET parameters, both live on their first page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bms.devices.models import ConfigAudit, WriteAudit
from bms.realtime import groups
from bms.realtime.payloads import audit_payload, config_audit_payload

PAGE_SIZE = 50
KINDS = (("", "writes and configuration"), ("writes", "writes"), ("config", "configuration"))


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """/audit/?kind=config&action=sign_in_failed&cpage=2, /audit/?kind=writes&source=api"""
    kind = request.GET.get("kind", "")
    kind = kind if kind in dict(KINDS) else ""
    writes = WriteAudit.objects.select_related("point__device", "virtual_object__device")
    source = request.GET.get("source", "")
    if source in dict(WriteAudit.SOURCE_CHOICES):
        writes = writes.filter(source=source)
    changes = ConfigAudit.objects.all()
    action = request.GET.get("action", "")
    if action in dict(ConfigAudit.ACTION_CHOICES):
        changes = changes.filter(action=action)
    page = Paginator(writes, PAGE_SIZE).get_page(request.GET.get("page"))
    config_page = Paginator(changes, PAGE_SIZE).get_page(request.GET.get("cpage"))
    live = page.number == 1 and config_page.number == 1
    return render(
        request,
        "web/audit.html",
        {
            "kind": kind,
            "kinds": KINDS,
            "page": page,
            "rows": [audit_payload(audit) for audit in page.object_list],
            "sources": WriteAudit.SOURCE_CHOICES,
            "source_filter": source,
            "config_page": config_page,
            "config_rows": [config_audit_payload(audit) for audit in config_page.object_list],
            "actions": ConfigAudit.ACTION_CHOICES,
            "action_filter": action,
            "page_size": PAGE_SIZE,
            # New rows go on top of the first pages; later pages stay as they were loaded.
            "live_groups": f"{groups.AUDIT},{groups.VIRTUAL_DEVICES}" if live else "",
        },
    )
