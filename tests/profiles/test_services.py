"""Device profiles as data: the built-in ones seeded, user profiles checked, kept while used."""

from __future__ import annotations

import re

import pytest

from bms.devices.models import ConfigAudit
from bms.profiles import services
from bms.profiles.built_in import BUILT_IN
from bms.profiles.definitions import ObjectDefinition
from bms.profiles.models import DeviceProfile, ProfileObject
from bms.virtual.models import VirtualTrendLog
from bms.virtual.profiles import profile_from_virtual_device
from bms.virtual.services import create_virtual_device, delete_virtual_device

pytestmark = pytest.mark.django_db

PUMP = ObjectDefinition("binary-output", "Pump", default="off", state_texts=("Stop", "Run"))
FLOW = ObjectDefinition("AI", "Flow", units="liters-per-second", default=1.5, min_value=0.0)


def test_the_built_in_profiles_are_seeded_with_their_objects():
    names = set(DeviceProfile.objects.filter(built_in=True).values_list("name", flat=True))
    assert names == {profile.name for profile in BUILT_IN}
    ahu = services.profile_named("air_handling_unit")
    assert [(o.object_type, o.instance, o.name) for o in ahu.profile_objects.all()][:3] == [
        ("analog-input", 1, "Supply_Air_Temperature"),
        ("analog-input", 2, "Return_Air_Temperature"),
        ("analog-output", 1, "Damper_Position"),
    ]


def test_a_flushed_built_in_profile_is_seeded_again_when_asked_for():
    DeviceProfile.objects.all().delete()
    assert services.profile_named("hvac_controller").profile_objects.count() == 2


def test_a_profile_is_created_checked_and_audited():
    profile = services.create_profile("Pump skid", "two points", [PUMP, FLOW])
    rows = {row.name: row for row in profile.profile_objects.all()}
    assert (rows["Pump"].default, rows["Pump"].commandable, rows["Pump"].instance) == (
        "inactive",
        True,
        1,
    )
    assert (rows["Flow"].object_type, rows["Flow"].commandable) == ("analog-input", False)
    audit = ConfigAudit.objects.get(action="profile_created")
    assert audit.target == "profile Pump skid"
    assert (audit.after or {})["objects"] == ["analog-input,1 Flow", "binary-output,1 Pump"]


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ([ObjectDefinition("toaster", "T")], "object 1 (T): unsupported object type 'toaster'"),
        (
            [PUMP, ObjectDefinition("analog-value", "SP", default=50.0, max_value=40.0)],
            "object 2 (SP): analog-value,1: 50 is out of range",
        ),
        ([ObjectDefinition("multi-state-value", "Mode")], "needs state_texts"),
        ([ObjectDefinition("analog-input", "T", units="furlongs")], "unit 'furlongs'"),
        ([ObjectDefinition("analog-input", "T", commandable=True)], "cannot be commandable"),
        ([ObjectDefinition("binary-value", "B", state_texts=("a",))], "two state texts"),
        ([PUMP, PUMP], "two objects are named 'Pump'"),
        (
            [ObjectDefinition("AI", "One", instance=1), ObjectDefinition("AI", "Two", instance=1)],
            "two objects are analog-input 1",
        ),
        (
            [
                ObjectDefinition(
                    "analog-input", "T", notification_class=1, high_limit=1.0, low_limit=2.0
                )
            ],
            "high limit (1.0) must be above the low limit",
        ),
        # Stored even without an alarm, and copied onto virtual objects: a PostgreSQL integer.
        (
            [ObjectDefinition("analog-input", "T", time_delay=2**31)],
            "T: the time delay must be from 0 to 2147483647 seconds",
        ),
        ([ObjectDefinition("analog-input", "T", deadband=-1.0)], "the deadband must be 0 or more"),
    ],
)
def test_an_object_device_8888_would_refuse_is_refused_and_nothing_stored(objects, message):
    with pytest.raises(services.ProfileError, match=re.escape(message)):
        services.create_profile("Bad", "", objects)
    assert not DeviceProfile.objects.filter(name="Bad").exists()


def test_a_taken_name_is_a_conflict():
    services.create_profile("Pump skid", "", [PUMP])
    with pytest.raises(services.ProfileConflict, match="already exists"):
        services.create_profile(" Pump skid ", "", [FLOW])


def test_instances_left_open_follow_the_highest_given():
    profile = services.create_profile(
        "P", "", [ObjectDefinition("analog-input", "A", instance=7), FLOW]
    )
    assert sorted(profile.profile_objects.values_list("instance", flat=True)) == [7, 8]


def test_built_in_profiles_are_copied_not_changed():
    hvac = services.profile_named("hvac_controller")
    with pytest.raises(services.ProfileError, match="cannot be changed; copy it"):
        services.update_profile(hvac, description="mine")
    with pytest.raises(services.ProfileError, match="cannot be deleted"):
        services.delete_profile(hvac)
    mine = services.copy_profile(hvac, "my_hvac")
    assert [o.name for o in mine.profile_objects.all()] == ["Temperature_Setpoint", "Fan_Control"]
    assert not mine.built_in


def test_update_replaces_the_objects_and_audits_before_and_after():
    profile = services.create_profile("P", "", [PUMP])
    services.update_profile(profile, name="P2", objects=[FLOW])
    assert [o.name for o in profile.profile_objects.all()] == ["Flow"]
    audit = ConfigAudit.objects.get(action="profile_changed")
    assert ((audit.before or {})["name"], (audit.after or {})["name"]) == ("P", "P2")


def test_a_profile_in_use_cannot_be_deleted():
    profile = services.create_profile("Pump skid", "", [PUMP, FLOW])
    device = create_virtual_device(3001, "Skid", template="Pump skid")
    assert device.profile == profile
    assert {o.name for o in device.virtual_objects.all()} == {"Pump", "Flow"}
    with pytest.raises(services.ProfileInUse, match="used by virtual device\\(s\\) 3001"):
        services.delete_profile(profile)
    assert ProfileObject.objects.filter(profile=profile).count() == 2
    delete_virtual_device(3001)
    services.delete_profile(profile)
    assert not DeviceProfile.objects.filter(name="Pump skid").exists()
    assert ConfigAudit.objects.filter(action="profile_deleted").count() == 1


def test_objects_marked_for_trend_logging_get_a_trend_log_on_the_virtual_device():
    logged = ObjectDefinition("analog-value", "Setpoint", default=21.0, trend_log=True)
    services.create_profile("logged", "", [logged, FLOW])
    device = create_virtual_device(3002, "Logged", template="logged")
    [log] = VirtualTrendLog.objects.all()
    assert (log.logged_object.name, log.name, log.logging_type) == (
        "Setpoint",
        "Virtual_3002_Setpoint_Log",
        "cov",
    )
    copy = profile_from_virtual_device(device, "logged_again")
    assert {o.name: o.trend_log for o in copy.profile_objects.all()} == {
        "Setpoint": True,
        "Flow": False,
    }
