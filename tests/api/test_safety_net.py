"""The API's safety net (bms.api.api): a database or model error that a missing check let
through is a 4xx with a reason for the client, and an ERROR with its traceback for us."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import ValidationError as ModelValidationError
from django.db import DataError
from django.test import RequestFactory

from bms.api.api import unstorable
from bms.virtual import services
from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.templates import DeviceTemplate, ObjectTemplate

pytestmark = pytest.mark.django_db


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bms.api.api" and r.levelno == logging.ERROR]


def test_an_integrity_error_that_escapes_a_service_is_409_and_logged(
    client, operator_token, monkeypatch, caplog
):
    # A template with two objects of one name: a bug of ours, not a race to retry.
    broken = DeviceTemplate(
        "broken",
        "two objects with one name",
        (
            ObjectTemplate("analog-value", "Same", default=1.0),
            ObjectTemplate("analog-value", "Same", default=2.0),
        ),
    )
    monkeypatch.setattr(services, "get_template", lambda key: broken)
    body = {"device_id": 6100, "device_name": "Broken", "template": "broken"}
    with caplog.at_level(logging.ERROR, logger="bms.api"):
        response = client.post(
            "/api/virtual-devices",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {operator_token}",
        )
    assert response.status_code == 409, response.content
    assert response.json() == {"detail": "this conflicts with what is stored; nothing was changed"}
    assert not VirtualBACnetDevice.objects.filter(device_id=6100).exists()
    (record,) = errors_logged(caplog)
    assert "POST /api/virtual-devices reached the database unchecked" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            DataError("value too long for type character varying(100)"),
            "value too long for type character varying(100)",
        ),
        (ModelValidationError("Enter a valid value."), "Enter a valid value."),
    ],
)
def test_a_data_or_model_error_is_422_with_its_reason_and_logged(caplog, error, words):
    request = RequestFactory().post("/api/tasks")
    with caplog.at_level(logging.ERROR, logger="bms.api"):
        response = unstorable(request, error)
    assert response.status_code == 422
    body = json.loads(response.content)
    assert body["message"] == f"the database cannot store this: {words}"
    assert body["detail"][0]["type"] == "data_error"
    assert len(errors_logged(caplog)) == 1
