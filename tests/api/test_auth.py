"""Bearer-token authentication: repeated wrong tokens from one address are answered 429 for a
while (even a right one), logged once, and do not touch other addresses or session users. A
script without credentials gets 401, never a CSRF failure; the schema and docs take a token."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.conf import settings
from django.test import Client

from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db


def get_devices(client, token, address="127.0.0.7"):
    return client.get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address)


def guess(client, times, address="127.0.0.7"):
    return [get_devices(client, f"bms_guess{n}", address).status_code for n in range(times)]


def test_wrong_tokens_are_401_until_the_limit_then_429_even_for_a_right_one(client, operator_token):
    limit = settings.API_TOKEN_FAILURE_LIMIT
    assert guess(client, limit) == [401] * limit
    refused = get_devices(client, operator_token)
    assert refused.status_code == 429
    assert re.fullmatch(
        r"too many wrong API tokens from this address; try again in \d+ s",
        refused.json()["detail"],
    )


def test_other_addresses_are_not_held_back(client, operator_token):
    guess(client, settings.API_TOKEN_FAILURE_LIMIT)
    assert get_devices(client, operator_token, address="127.0.0.8").status_code == 200


def test_a_right_token_below_the_limit_works(client, operator_token):
    guess(client, settings.API_TOKEN_FAILURE_LIMIT - 1)
    assert get_devices(client, operator_token).status_code == 200


def test_the_lockout_is_logged_once(client, caplog):
    with caplog.at_level(logging.WARNING, logger="bms"):
        guess(client, settings.API_TOKEN_FAILURE_LIMIT + 5)
    lines = [r.getMessage() for r in caplog.records if "API token" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "127.0.0.7" in lines[0], lines


# Issue 11: ninja's session scheme checked CSRF before it found no session, so scripts were told
# "CSRF check Failed" (403) instead of 401. These clients enforce CSRF as browsers' requests are.


def csrf_client():
    return Client(enforce_csrf_checks=True)


def post_task(client, **headers):
    body = json.dumps({"type": "discover"})
    return client.post("/api/tasks", body, content_type="application/json", **headers)


def test_an_anonymous_write_is_401_not_a_csrf_failure(db):
    response = post_task(csrf_client())
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert not BACnetTask.objects.exists()


def test_a_write_with_a_mistyped_token_is_401_not_a_csrf_failure(db, operator_token):
    response = post_task(csrf_client(), HTTP_AUTHORIZATION=f"Bearer {operator_token}x")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert not BACnetTask.objects.exists()


def test_a_write_with_a_token_needs_no_csrf_token(db, operator_token):
    response = post_task(csrf_client(), HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    assert response.status_code == 202, response.content


def test_a_signed_in_browser_still_needs_its_csrf_token(operator):
    client = csrf_client()
    client.force_login(operator)
    response = post_task(client)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not BACnetTask.objects.exists()


def test_a_session_does_not_stand_in_for_a_wrong_token(operator):
    client = csrf_client()
    client.force_login(operator)
    assert client.get("/api/devices", HTTP_AUTHORIZATION="Bearer bms_nope").status_code == 401
    assert client.get("/api/devices").status_code == 200


@pytest.mark.parametrize("url", ["/api/openapi.json", "/api/docs"])
def test_the_schema_and_docs_are_read_with_a_token(client, viewer_token, url):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    assert response.status_code == 200
    if url.endswith(".json"):
        assert "/api/virtual-devices" in response.json()["paths"]


@pytest.mark.parametrize("url", ["/api/openapi.json", "/api/docs"])
def test_the_schema_and_docs_refuse_a_wrong_token_with_401(client, db, url):
    response = client.get(url, HTTP_AUTHORIZATION="Bearer bms_nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_the_schema_sends_a_browser_without_a_session_to_sign_in(client, db):
    response = client.get("/api/openapi.json")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_guessing_tokens_at_the_schema_counts_toward_the_lockout(client, operator_token):
    limit = settings.API_TOKEN_FAILURE_LIMIT
    for n in range(limit):
        client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer bms_guess{n}")
    response = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    assert response.status_code == 429
