"""Users issue and revoke their own API tokens from a page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from bms.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def issue(client: Client, name: str = "export") -> str:
    html = client.post(reverse("web:tokens"), {"name": name}, follow=True).content.decode()
    return re.search(r'<pre id="issued-token">([^<]+)</pre>', html).group(1)


def test_a_token_is_shown_once_and_then_works_for_the_api(viewer_client, viewer):
    token = issue(viewer_client)
    assert Client().get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    listing = viewer_client.get(reverse("web:tokens")).content.decode()
    assert "export" in listing
    assert token not in listing


def test_a_revoked_token_stops_working(viewer_client):
    token = issue(viewer_client)
    row = ApiToken.objects.get()
    viewer_client.post(reverse("web:token_revoke", args=[row.id]))
    assert Client().get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_nobody_can_revoke_someone_elses_token(viewer_client, operator, operator_token):
    row = ApiToken.objects.get(user=operator)
    assert viewer_client.post(reverse("web:token_revoke", args=[row.id])).status_code == 404
    assert ApiToken.objects.filter(id=row.id).exists()


def test_a_token_needs_a_name(viewer_client):
    assert viewer_client.post(reverse("web:tokens"), {"name": ""}).status_code == 400
    assert not ApiToken.objects.exists()


def test_the_tokens_page_needs_sign_in(client):
    assert client.get(reverse("web:tokens")).status_code == 302


def test_issuing_redirects_so_a_reload_issues_no_second_token(viewer_client, viewer):
    response = viewer_client.post(reverse("web:tokens"), {"name": "export"})
    assert (response.status_code, response["Location"]) == (302, reverse("web:tokens"))
    shown = viewer_client.get(reverse("web:tokens")).content.decode()
    token = re.search(r'<pre id="issued-token">([^<]+)</pre>', shown).group(1)
    reloaded = viewer_client.get(reverse("web:tokens")).content.decode()
    assert token not in reloaded
    assert 'id="issued-token"' not in reloaded
    assert ApiToken.objects.filter(user=viewer).count() == 1
    assert Client().get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_a_nameless_token_is_refused_on_the_page_and_none_is_issued(viewer_client, viewer):
    response = viewer_client.post(reverse("web:tokens"), {"name": ""})
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert not ApiToken.objects.filter(user=viewer).exists()
