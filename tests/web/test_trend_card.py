"""The trend card's page side: the chart library served from our own static files, the series
to draw, the other points or objects one may add, and a device's history as CSV."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_a_points_trend_card_offers_its_devices_other_points(viewer_client: Any, building: Any):
    ai = building["ai"]
    html = viewer_client.get(f"/points/{ai.pk}/").content.decode()
    assert "/static/vendor/uplot/uPlot.iife.min.js" in html  # no CDN: the CSP stays 'self'
    assert "/static/vendor/uplot/uPlot.min.css" in html
    assert f'data-series-url="/api/points/{ai.pk}/series"' in html
    choices = re.findall(r'<option value="(/api/points/\d+/series)"', html)
    others = [building[k].pk for k in ("ao", "bo", "msv")]
    assert sorted(choices) == sorted(f"/api/points/{pk}/series" for pk in others)
    assert f"/api/points/{ai.pk}/series" not in choices


def test_a_virtual_objects_trend_card_offers_its_devices_other_objects(
    viewer_client: Any, building: Any
):
    damper = building["virtual"].virtual_objects.get(name="Damper_Position")
    html = viewer_client.get(f"/virtual/objects/{damper.pk}/").content.decode()
    assert f'data-series-url="/api/virtual-objects/{damper.pk}/series"' in html
    choices = re.findall(r'<option value="/api/virtual-objects/(\d+)/series"', html)
    siblings = building["virtual"].virtual_objects.exclude(pk=damper.pk)
    assert sorted(map(int, choices)) == sorted(siblings.values_list("pk", flat=True))


def test_the_device_page_links_its_points_history_as_csv(viewer_client: Any, building: Any):
    device = building["device"]
    html = viewer_client.get(f"/devices/{device.pk}/").content.decode()
    link = re.search(r'<a [^>]*id="history-csv"[^>]*>', html)
    assert link is not None
    assert f'href="/api/devices/{device.pk}/history.csv"' in link.group(0)
    response = viewer_client.get(f"/api/devices/{device.pk}/history.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


def test_the_vendored_chart_library_keeps_its_licence():
    from django.contrib.staticfiles import finders

    licence = finders.find("vendor/uplot/LICENSE")
    assert licence is not None
    with open(licence) as file:
        assert "MIT" in file.read()
