"""Odd but possible input: huge numbers, times without a zone, infinities. Each is a clear 4xx
(or a sensible answer), never a 500, and what the audit keeps still renders."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
HUGE = 10**400


def post(client, url, body, token):
    return client.post(
        url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.mark.parametrize(
    "url", ["/api/devices/{n}", "/api/tasks/{n}", "/api/points/{n}", "/api/virtual-devices/{n}"]
)
def test_ids_beyond_any_integer_column_are_404(client, db, viewer_token, url):
    response = client.get(url.format(n=10**25), HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    assert response.status_code == 404


def test_times_without_a_zone_are_read_in_the_site_zone(client, building, viewer_token):
    url = (
        f"/api/points/{building['ai'].id}/readings?since=2020-01-01T00:00:00"
        "&until=2100-01-01T00:00:00Z"
    )
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    assert response.status_code == 200
    assert response.json()["count"] == 10


@pytest.mark.parametrize(("point", "value"), [("ao", HUGE), ("msv", 10**30)])
def test_numbers_too_large_for_bacnet_are_400_with_a_short_message(
    client, building, operator_token, point, value
):
    response = post(
        client, f"/api/points/{building[point].id}/write", {"value": value}, operator_token
    )
    assert response.status_code == 400
    assert len(response.json()["detail"]) < 120


def test_a_refused_huge_value_still_renders_in_the_audit_log(
    client, building, operator_token, viewer_client
):
    post(client, f"/api/points/{building['ai'].id}/write", {"value": HUGE}, operator_token)
    assert viewer_client.get(reverse("web:audit")).status_code == 200


def test_an_infinite_value_typed_into_a_page_is_refused_and_audited(operator_client, building):
    response = operator_client.post(
        reverse("web:point_write", args=[building["ao"].id]),
        {"value": "1e999", "priority": "8"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "finite" in response.json()["error"]
    assert operator_client.get(reverse("web:audit")).status_code == 200


def test_a_task_body_that_is_not_an_object_is_422(client, db, operator_token):
    response = post(client, "/api/tasks", [1, 2], operator_token)
    assert response.status_code == 422
    assert response.json()["message"] == "must be a JSON object, not an array"
