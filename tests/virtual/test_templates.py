"""Virtual devices from templates (device profiles, bms.profiles)."""

import pytest
from django.db import IntegrityError, transaction

from bms.profiles.built_in import BUILT_IN
from bms.virtual import services
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from bms.virtual.services import (
    VirtualDeviceError,
    create_virtual_device,
    delete_virtual_device,
    next_instance,
)
from bms.virtual.templates import DeviceTemplate, ObjectTemplate, UnknownTemplate, get_template

pytestmark = pytest.mark.django_db


def test_seed_templates_carry_the_seed_values():
    sensor = {o.name: o for o in get_template("temperature_sensor").objects}
    assert (sensor["Temperature"].object_type, sensor["Temperature"].units) == (
        "analog-input",
        "degrees-celsius",
    )
    assert (
        sensor["Temperature"].default,
        sensor["Temperature"].min_value,
        sensor["Temperature"].max_value,
    ) == (22.0, -10.0, 50.0)
    assert (sensor["Humidity"].units, sensor["Humidity"].default) == ("percent", 45.0)
    hvac = {o.name: o for o in get_template("hvac_controller").objects}
    setpoint = hvac["Temperature_Setpoint"]
    assert (setpoint.object_type, setpoint.default, setpoint.min_value, setpoint.max_value) == (
        "analog-output",
        24.0,
        18.0,
        28.0,
    )
    fan = hvac["Fan_Control"]
    assert (fan.object_type, fan.default, fan.state_texts) == (
        "binary-output",
        "inactive",
        ("Off", "On"),
    )


def test_every_template_default_fits_its_own_limits_and_states():
    for template in BUILT_IN:
        for spec in template.objects:
            if spec.min_value is not None:
                assert spec.min_value <= spec.default <= spec.max_value, spec
            if spec.object_type.startswith("multi-state"):
                assert 1 <= spec.default <= len(spec.state_texts), spec
            if spec.object_type.startswith("binary"):
                assert spec.default in ("inactive", "active")
                assert len(spec.state_texts) == 2


def test_an_unknown_template_names_the_known_ones():
    with pytest.raises(UnknownTemplate, match="known templates: air_handling_unit, hvac"):
        get_template("toaster")


def test_creating_a_device_creates_its_template_objects():
    device = create_virtual_device(1001, "Test HVAC", "first floor", "hvac_controller")
    objects = {o.name: o for o in device.virtual_objects.all()}
    assert set(objects) == {"Temperature_Setpoint", "Fan_Control"}
    setpoint = objects["Temperature_Setpoint"]
    assert setpoint.bacnet_name == "Virtual_1001_Temperature_Setpoint"
    assert (setpoint.object_type, setpoint.instance, setpoint.present_value) == (
        "analog-output",
        1,
        24.0,
    )
    assert setpoint.priority_array == [None] * 16
    assert setpoint.relinquish_default == 24.0
    assert (device.template, device.description, device.is_running) == (
        "hvac_controller",
        "first floor",
        True,
    )


def test_inputs_have_no_priority_array():
    device = create_virtual_device(1002, "Room", template="temperature_sensor")
    assert {o.priority_array is None for o in device.virtual_objects.all()} == {True}
    assert {o.relinquish_default for o in device.virtual_objects.all()} == {None}


def test_instances_are_allocated_across_devices_per_object_type():
    create_virtual_device(1001, "AHU 1", template="air_handling_unit")
    second = create_virtual_device(1002, "HVAC", template="hvac_controller")
    by_name = {o.name: (o.object_type, o.instance) for o in second.virtual_objects.all()}
    # The AHU holds analog-output 1 and 2 (damper, valve) and no binary-output.
    assert by_name == {
        "Temperature_Setpoint": ("analog-output", 3),
        "Fan_Control": ("binary-output", 1),
    }
    assert next_instance("analog-output") == 4
    assert next_instance("multi-state-input") == 1


def test_the_same_object_identifier_cannot_exist_twice():
    device = create_virtual_device(1001, "Room", template="temperature_sensor")
    with pytest.raises(IntegrityError), transaction.atomic():
        VirtualObject.objects.create(
            device=device, object_type="analog-input", instance=1, name="Other"
        )


def test_a_failure_midway_leaves_nothing_behind(monkeypatch):
    broken = DeviceTemplate(
        "broken",
        "two objects with one name",
        (
            ObjectTemplate("analog-value", "Same", default=1.0),
            ObjectTemplate("analog-value", "Same", default=2.0),
        ),
    )
    monkeypatch.setattr(services, "get_template", lambda key: broken)
    with pytest.raises(IntegrityError):
        create_virtual_device(1001, "Broken", template="broken")
    assert not VirtualBACnetDevice.objects.exists()
    assert not VirtualObject.objects.exists()


def test_a_duplicate_device_id_is_refused():
    create_virtual_device(1001, "Room", template="temperature_sensor")
    with pytest.raises(VirtualDeviceError, match="virtual device 1001 already exists"):
        create_virtual_device(1001, "Again", template="hvac_controller")


@pytest.mark.parametrize(
    ("device_id", "name", "message"),
    [
        (4194303, "X", "outside 0..4194302"),
        (-1, "X", "outside 0..4194302"),
        (5, "  ", "needs a name"),
    ],
)
def test_bad_input_is_refused(device_id, name, message):
    with pytest.raises(VirtualDeviceError, match=message):
        create_virtual_device(device_id, name, template="temperature_sensor")


def test_deleting_a_device_deletes_its_objects():
    create_virtual_device(1001, "Room", template="temperature_sensor")
    create_virtual_device(1002, "Lights", template="lighting_controller")
    assert delete_virtual_device(1001) == 2
    assert list(VirtualObject.objects.values_list("device__device_id", flat=True)) == [1002, 1002]
    with pytest.raises(VirtualDeviceError, match="no virtual device 1001"):
        delete_virtual_device(1001)
