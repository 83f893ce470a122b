"""The bacnet_virtual command, called in-process."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bms.virtual.models import VirtualBACnetDevice


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_bacnet_virtual_creates_lists_and_deletes():
    created = run(
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "Test HVAC",
        "--template",
        "hvac_controller",
        "--description",
        "plant room",
    )
    assert created == "created virtual device 1001 'Test HVAC' with 2 objects\n"
    assert VirtualBACnetDevice.objects.get(device_id=1001).description == "plant room"
    listing = run("bacnet_virtual", "list")
    assert "1001 Test HVAC [hvac_controller, running]" in listing
    assert "analog-output,1 Virtual_1001_Temperature_Setpoint = 24.0 degrees-celsius" in listing
    assert 'binary-output,1 Virtual_1001_Fan_Control = "inactive"' in listing
    assert run("bacnet_virtual", "delete", "--device-id", "1001") == (
        "deleted virtual device 1001 and 2 objects\n"
    )
    assert run("bacnet_virtual", "list") == "no virtual devices\n"


@pytest.mark.django_db
def test_bacnet_virtual_reports_operator_mistakes_as_command_errors():
    run(
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "A",
        "--template",
        "temperature_sensor",
    )
    with pytest.raises(CommandError, match="virtual device 1001 already exists"):
        run(
            "bacnet_virtual",
            "create",
            "--device-id",
            "1001",
            "--name",
            "B",
            "--template",
            "temperature_sensor",
        )
    with pytest.raises(CommandError, match="no virtual device 7"):
        run("bacnet_virtual", "delete", "--device-id", "7")
    with pytest.raises(CommandError, match="unknown template 'toaster'; known templates: air_"):
        run("bacnet_virtual", "create", "--device-id", "9", "--name", "T", "--template", "toaster")
