"""The configuration audit: virtual devices created, edited and deleted, API tokens issued and
revoked, sign-ins and failed sign-ins, each with who did it (the request's user, or "system"
for a command) and from where."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from bms.accounts.models import ApiToken
from bms.devices.config_audit import record
from bms.devices.models import ConfigAudit
from bms.virtual.models import VirtualBACnetDevice
from tests.web.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def rows(*actions: str) -> list[tuple[str, str, str, object, object]]:
    found = ConfigAudit.objects.filter(action__in=actions).order_by("time", "id")
    return [(a.action, a.who, a.target, a.before, a.after) for a in found]


def test_a_virtual_device_made_edited_and_deleted_in_the_pages_names_the_operator(
    operator_client,
):
    operator_client.post(
        reverse("web:virtual_create"),
        {
            "device_id": 3001,
            "device_name": "Lab",
            "description": "",
            "template": "temperature_sensor",
        },
    )
    operator_client.post(
        reverse("web:virtual_edit", args=[3001]), {"device_name": "Lab 2", "description": "x"}
    )
    operator_client.post(reverse("web:virtual_delete", args=[3001]))
    created, changed, deleted = rows(
        "virtual_device_created", "virtual_device_changed", "virtual_device_deleted"
    )
    assert created[:3] == ("virtual_device_created", "otto", "virtual device 3001 Lab")
    assert created[4]["device_name"] == "Lab"
    assert changed == (
        "virtual_device_changed",
        "otto",
        "virtual device 3001 Lab 2",
        {"device_name": "Lab", "description": ""},
        {"device_name": "Lab 2", "description": "x"},
    )
    assert deleted[:3] == ("virtual_device_deleted", "otto", "virtual device 3001 Lab 2")
    assert ConfigAudit.objects.filter(action="virtual_device_created").get().address == "127.0.0.1"


def test_a_command_line_change_is_the_systems_and_bookkeeping_saves_are_no_change():
    call_command(
        "bacnet_virtual",
        "create",
        "--device-id",
        "3002",
        "--name",
        "CLI",
        "--template",
        "temperature_sensor",
    )
    ((action, who, *_),) = rows("virtual_device_created")
    assert (action, who) == ("virtual_device_created", "")
    device = VirtualBACnetDevice.objects.get(device_id=3002)
    device.save()  # as a save of runtime fields would: nothing configured changed
    assert rows("virtual_device_changed") == []


def test_tokens_issued_and_revoked_in_the_pages_are_audited_without_the_token(operator_client):
    operator_client.post(reverse("web:tokens"), {"name": "export script"})
    token = ApiToken.objects.get()
    operator_client.post(reverse("web:token_revoke", args=[token.id]))
    assert rows("token_issued", "token_revoked") == [
        (
            "token_issued",
            "otto",
            "API token 'export script' of otto",
            None,
            {"name": "export script"},
        ),
        (
            "token_revoked",
            "otto",
            "API token 'export script' of otto",
            {"name": "export script"},
            None,
        ),
    ]
    assert "bms_" not in str(rows("token_issued", "token_revoked"))  # the token's prefix


def test_sign_ins_and_failed_sign_ins_are_audited_with_the_address(operator):
    Client().post(reverse("login"), {"username": "otto", "password": "wrong"})
    Client().post(reverse("login"), {"username": "otto", "password": PASSWORD})
    failed, signed_in = rows("sign_in_failed", "signed_in")
    assert failed[:3] == ("sign_in_failed", "otto", "user otto")
    assert signed_in[:3] == ("signed_in", "otto", "user otto")
    signs = ConfigAudit.objects.filter(action__in=["sign_in_failed", "signed_in"])
    assert set(signs.values_list("address", flat=True)) == {"127.0.0.1"}


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown configuration audit action"):
        record("made_coffee", "kitchen")
