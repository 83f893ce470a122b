"""The audit log as the live page renders it (rows from payloads.audit_payload, live on its first
page), and a virtual object's page with its trend, reached from the virtual device page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bms.devices.models import WriteAudit
from bms.virtual.models import VirtualObject
from bms.web.views.tasks import PAGE_SIZE

pytestmark = pytest.mark.django_db


def body_groups(html: str) -> str:
    match = re.search(r'<body data-groups="([^"]*)"', html)
    assert match
    return match.group(1)


def audit_rows(html: str) -> list[str]:
    table = html.split('id="audit-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>")[0]
    return [re.sub(r"\s+", " ", row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def damper(building: dict[str, Any]) -> VirtualObject:
    return building["virtual"].virtual_objects.get(name="Damper_Position")


def test_audit_rows_link_their_subject_and_format_values_by_its_type(viewer_client, building):
    WriteAudit.objects.create(
        source="bacnet",
        who="127.0.0.9:47808",
        object_ref="analog-output,1",
        virtual_object=damper(building),
        old_value=0,
        new_value=150.0,
        priority=8,
        accepted=False,
        reason="present-value: value-out-of-range",
        time=timezone.now() + timezone.timedelta(seconds=2),
    )
    WriteAudit.objects.create(
        source="bacnet",
        who="127.0.0.9:47808",
        object_ref="analog-value,9",
        new_value="x",
        accepted=False,
        reason="unknown-object",
        time=timezone.now() + timezone.timedelta(seconds=1),
    )
    rows = audit_rows(viewer_client.get(reverse("web:audit")).content.decode())
    refused, unknown, operator = rows
    assert '<a href="/virtual/2001/">analog-output,1</a>' in refused
    # analog: two decimals
    assert ">0.00<" in refused
    assert ">150.00<" in refused
    assert 'refused</span> <span class="small">present-value: value-out-of-range' in refused
    assert "<a " not in unknown
    assert ">analog-value,9<" in unknown
    assert f'<a href="/points/{building["ao"].id}/">1001:analog-output,1</a>' in operator
    assert ">Operator<" in operator
    assert ">50.00<" in operator
    assert ">8<" in operator


def test_the_first_audit_page_is_live_and_later_pages_are_not(viewer_client, building):
    WriteAudit.objects.bulk_create(
        WriteAudit(
            source="api",
            who="script",
            object_ref="1001:analog-output,1",
            new_value=float(n),
            accepted=True,
        )
        for n in range(PAGE_SIZE)
    )
    first = viewer_client.get(reverse("web:audit")).content.decode()
    assert body_groups(first) == "audit,virtual_devices"
    assert 'id="audit-section" data-refresh' in first  # re-read when the socket comes back
    assert f'data-page-size="{PAGE_SIZE}"' in first
    second = viewer_client.get(reverse("web:audit") + "?page=2").content.decode()
    assert body_groups(second) == ""
    filtered = viewer_client.get(reverse("web:audit") + "?source=bacnet").content.decode()
    assert 'data-source-filter="bacnet"' in filtered


def test_the_virtual_device_page_links_each_object_to_its_page(viewer_client, building):
    html = viewer_client.get(reverse("web:virtual", args=[2001])).content.decode()
    obj = damper(building)
    assert (
        f'<a href="/virtual/objects/{obj.pk}/" title="Trend and details">{obj.bacnet_name}</a>'
    ) in html


def test_a_virtual_objects_page_shows_its_value_and_its_trend(viewer_client, building):
    obj = damper(building)
    html = viewer_client.get(reverse("web:virtual_object", args=[obj.pk])).content.decode()
    assert body_groups(html) == "virtual_devices"  # external writes extend the trend
    assert f'id="object-value" data-object-id="{obj.pk}"' in html
    trend = re.search(r'<div id="trend"[^>]*>', html)
    assert trend
    assert f'data-readings-url="/api/virtual-objects/{obj.pk}/readings"' in trend.group(0)
    assert f'data-virtual-object-id="{obj.pk}"' in trend.group(0)
    assert 'data-object-type="analog-output"' in trend.group(0)
    assert "data-point-id" not in trend.group(0)
    assert "/static/web/trend.js" in html


def test_a_points_page_keeps_its_trend(viewer_client, building):
    ai = building["ai"]
    html = viewer_client.get(reverse("web:point", args=[ai.pk])).content.decode()
    trend = re.search(r'<div id="trend"[^>]*>', html)
    assert trend
    assert f'data-readings-url="/api/points/{ai.pk}/readings"' in trend.group(0)
    assert f'data-point-id="{ai.pk}"' in trend.group(0)


def test_unknown_virtual_objects_are_404_and_strangers_sign_in_first(viewer_client, building):
    assert viewer_client.get(reverse("web:virtual_object", args=[999])).status_code == 404
    url = reverse("web:virtual_object", args=[damper(building).pk])
    assert Client().get(url)["Location"].startswith(reverse("login"))
