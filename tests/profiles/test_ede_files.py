"""EDE files in the product: profiles in and out (round trips), a discovered device's and a
site's files, device 8888's, expected points compared, CSV point lists; bad files store nothing."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from bms.bacnet.ede import parse_ede
from bms.devices.models import BACnetDevice, BACnetPoint, ConfigAudit
from bms.profiles import ede_files, expected, points, services
from bms.profiles.built_in import BUILT_IN
from bms.profiles.definitions import ObjectDefinition
from bms.profiles.models import DeviceProfile, ExpectedPoint
from bms.virtual import profiles as virtual_profiles
from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db


def encoded(files: tuple[str, str]) -> tuple[bytes, bytes]:
    return files[0].encode(), files[1].encode()


@pytest.mark.parametrize("name", sorted(profile.name for profile in BUILT_IN))
def test_a_profile_exported_imported_and_exported_again_is_identical(name: str) -> None:
    first = ede_files.profile_files(services.profile_named(name), project_name="P")
    imported = ede_files.import_profile(f"{name}_copy", "", *encoded(first))
    assert imported.skipped == ()
    assert ede_files.profile_files(imported.profile, project_name="P") == first


def test_an_imported_profile_keeps_what_ede_carries() -> None:
    source = services.profile_named("temperature_sensor")
    imported = ede_files.import_profile("copy", "", *encoded(ede_files.profile_files(source)))
    row = imported.profile.profile_objects.get(name="Temperature")
    assert (row.units, row.default, row.min_value, row.max_value) == (
        "degrees-celsius",
        22.0,
        -10.0,
        50.0,
    )
    assert (row.notification_class, row.high_limit, row.low_limit) == (1, 30.0, 15.0)


# Everything a profile holds that EDE has no standard column for, set.
SETTINGS = [
    ObjectDefinition(
        "analog-input",
        "Return_Temp",
        units="degrees-celsius",
        default=21.5,
        cov_increment=0.25,
        notification_class=3,
        high_limit=28.0,
        low_limit=16.0,
        deadband=0.75,
        time_delay=45,
        trend_log=True,
    ),
    ObjectDefinition("analog-value", "Setpoint", default=20.0, cov_increment=0.0, time_delay=7),
    ObjectDefinition("binary-input", "Filter", state_texts=("Clean", "Dirty"), trend_log=True),
    ObjectDefinition("multi-state-value", "Mode", state_texts=("Off", "On"), deadband=2.0),
]


def test_cov_alarm_and_trend_settings_survive_profile_to_ede_to_profile() -> None:
    source = services.create_profile("settings", "", SETTINGS)
    first = ede_files.profile_files(source, project_name="P")
    imported = ede_files.import_profile("settings_copy", "", *encoded(first))
    assert services.definitions(imported.profile) == services.definitions(source)
    row = imported.profile.profile_objects.get(name="Return_Temp")
    assert (row.cov_increment, row.deadband, row.time_delay, row.trend_log) == (
        0.25,
        0.75,
        45,
        True,
    )
    assert ede_files.profile_files(imported.profile, project_name="P") == first


def test_a_standard_ede_file_from_another_tool_imports_as_before() -> None:
    """No BMS columns: standard ones by name in the tool's order, alarm settings left at rest."""
    main = (
        "\ufeffPROJECT_NAME;Plant\r\n"
        "# keyname;device obj.-instance;object-name;object-type;object-instance;unit-code;"
        "notification-class;low-limit;hi-limit;supports COV\r\n"
        "k1;5;Boiler;8;5;;;;;\r\n"
        "k2;5;Flow temp;0;1;62;2;10;90;Y\r\n"
    ).encode()
    imported = ede_files.import_profile("tool", "", main)
    [row] = imported.profile.profile_objects.all()
    assert (row.name, row.units, row.notification_class, row.low_limit, row.high_limit) == (
        "Flow temp",
        "degrees-celsius",
        2,
        10.0,
        90.0,
    )
    assert (row.cov_increment, row.deadband, row.time_delay, row.trend_log) == (None, 0.0, 0, False)


HEAD = "# keyname;device obj.-instance;object-name;object-type;object-instance"
COLUMNS = f"{HEAD};state-text-reference;present-value-default"
OURS = f"{HEAD};bms-cov-increment;bms-deadband;bms-time-delay;bms-trend-log"
MALFORMED = [
    pytest.param(b"# keyname,device obj.-instance,object-name\nk,1,A", None, 1, id="separator"),
    pytest.param(b"# keyname;device obj.-instance;object-name\nk;1;A", None, 1, id="columns"),
    pytest.param(f"{HEAD}\nk;1;A;0;1\nk;1;B;77;2".encode(), None, 3, id="unknown-type"),
    pytest.param(f"{HEAD}\nk;1;A;0;1\nk;1;B;0;1".encode(), None, 3, id="duplicate-instance"),
    pytest.param(f"{HEAD}\nk;1;A;0;1\n".encode() + b"k;1;B\xe4;0;2", None, 3, id="not-utf-8"),
    pytest.param(f"{COLUMNS}\nk;1;A;0;1;;\nk;1;M;19;1;;1".encode(), None, 3, id="no-states"),
    pytest.param(f"{COLUMNS}\nk;1;A;0;1;;x".encode(), None, 2, id="bad-default"),
    pytest.param(f"{HEAD}\nk;1;A;0;1\nk;1;A;0;2".encode(), None, 3, id="same-name"),
    pytest.param(f"{OURS}\nk;1;A;0;1;0.1;1;5;Y\nk;1;B;0;2;x;;;".encode(), None, 3, id="bad-cov"),
    pytest.param(f"{OURS}\nk;1;A;0;1;;-1;;".encode(), None, 2, id="negative-deadband"),
    pytest.param(f"{OURS}\nk;1;A;0;1;;;soon;".encode(), None, 2, id="bad-time-delay"),
    pytest.param(f"{OURS}\nk;1;A;0;1;;;3000000000;".encode(), None, 2, id="long-time-delay"),
    pytest.param(f"{OURS}\nk;1;A;0;1;;;;maybe".encode(), None, 2, id="bad-trend-log"),
]


@pytest.mark.parametrize(("main", "texts", "line"), MALFORMED)
def test_a_malformed_file_names_its_line_and_stores_nothing(
    main: bytes, texts: bytes | None, line: int
) -> None:
    profiles = DeviceProfile.objects.count()
    with pytest.raises(services.ProfileError, match=rf"^line {line}: "):
        ede_files.import_profile("Imported", "", main, texts)
    assert DeviceProfile.objects.count() == profiles
    assert not ConfigAudit.objects.filter(action="profile_created").exists()


@pytest.mark.parametrize(("main", "texts", "line"), MALFORMED[:5])
def test_a_malformed_file_leaves_expected_points_as_they_were(
    building: dict[str, Any], main: bytes, texts: bytes | None, line: int
) -> None:
    device = building["device"]
    ExpectedPoint.objects.create(device=device, object_type="analog-input", instance=9, name="X")
    with pytest.raises(services.ProfileError, match=rf"^line {line}: "):
        ede_files.import_expected_points(device, main.replace(b";1;", b";1001;"), texts)
    assert list(device.expected_points.values_list("name", flat=True)) == ["X"]


def test_a_file_of_several_devices_needs_one_chosen() -> None:
    main = f"{HEAD}\nk;1;A;0;1\nk;2;B;0;1\nk;2;T;20;1".encode()
    with pytest.raises(services.ProfileError, match=re.escape("several devices (it has 1, 2)")):
        ede_files.import_profile("Two", "", main)
    imported = ede_files.import_profile("Two", "", main, device_instance=2)
    assert [o.name for o in imported.profile.profile_objects.all()] == ["B"]
    assert imported.skipped == ("line 4: trend-log 1 (T)",)


def test_a_discovered_device_exports_and_its_file_marks_its_expected_points(
    building: dict[str, Any],
) -> None:
    device = building["device"]
    building["ao"].properties = {
        "min-pres-value": 0.0,
        "max-pres-value": 100.0,
        "cov-increment": 2.0,
    }
    building["ao"].save()
    main, texts = encoded(ede_files.device_files(device))
    rows = parse_ede(main, texts)
    assert [(r.object_type, r.instance, r.object_name) for r in rows][:2] == [
        ("device", 1001, "AHU-1"),
        ("analog-input", 1, "Zone_Temp"),
    ]
    damper = next(r for r in rows if r.object_name == "Damper")
    assert (damper.min_value, damper.max_value, damper.units, damper.commandable) == (
        0.0,
        100.0,
        "percent",
        True,
    )
    assert (damper.cov_increment, damper.supports_cov) == (2.0, True)
    assert ede_files.import_expected_points(device, main, texts) == 4
    assert expected.compare(device) == expected.Comparison(4, 4, ())

    BACnetPoint.objects.filter(pk=building["ai"].pk).update(name="Zone_T", units="percent")
    building["msv"].delete()
    BACnetPoint.objects.create(device=device, object_type="analog-value", instance=5, name="New")
    comparison = expected.compare(device)
    assert (comparison.expected, comparison.matching) == (4, 2)
    assert [(c.object_type, c.status) for c in comparison.checks] == [
        ("analog-input", "different"),
        ("analog-value", "unexpected"),
        ("multi-state-value", "missing"),
    ]
    assert comparison.checks[0].differences == (
        "name: expected 'Zone_Temp', found 'Zone_T'",
        "units: expected degrees-celsius, found percent",
    )


def test_expected_points_are_those_of_the_device_itself(building: dict[str, Any]) -> None:
    main = f"{HEAD}\nk;7;A;0;1".encode()
    with pytest.raises(services.ProfileError, match="no objects of device 1001 \\(it has 7\\)"):
        ede_files.import_expected_points(building["device"], main, None)


def test_a_site_exports_every_device(building: dict[str, Any]) -> None:
    other = BACnetDevice.objects.create(device_instance=1002, address="127.0.0.3", name="B")
    BACnetPoint.objects.create(device=other, object_type="binary-input", instance=3, name="Door")
    BACnetDevice.objects.create(site="north", device_instance=5, address="127.0.0.4")
    rows = parse_ede(*encoded(ede_files.site_files("default")))
    assert sorted({r.device_instance for r in rows}) == [1001, 1002]
    assert ("binary-input", 3, "Door") in [(r.object_type, r.instance, r.object_name) for r in rows]


def test_the_point_list_csv_has_a_row_per_point(building: dict[str, Any]) -> None:
    BACnetPoint.objects.filter(pk=building["bo"].pk).update(name="=HYPERLINK(1)")
    text = points.csv_text(points.csv_rows(BACnetPoint.objects.select_related("device")))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == points.CSV_HEADER
    by_name = {row[5]: row for row in rows[1:]}
    assert by_name["Zone_Temp"][:5] == ["default", "1001", "AHU-1", "analog-input", "1"]
    assert by_name["Mode"][8:11] == ["Off|Heat|Cool", "yes", "1"]
    assert "'=HYPERLINK(1)" in by_name  # a spreadsheet shows it, it does not run it


def test_a_profile_from_a_discovered_device_builds_a_virtual_copy(
    building: dict[str, Any],
) -> None:
    building["ao"].properties = {"min-pres-value": 0.0, "max-pres-value": 30.0}  # 40 is outside
    building["ao"].save()
    BACnetPoint.objects.create(
        device=building["device"],
        object_type="multi-state-input",
        instance=2,
        name="Stage",
        properties={"number-of-states": 3},
    )
    profile = services.profile_from_device(building["device"], "like_ahu_1")
    rows = {row.name: row for row in profile.profile_objects.all()}
    assert set(rows) == {"Zone_Temp", "Damper", "Fan", "Mode", "Stage"}
    assert (rows["Damper"].default, rows["Damper"].max_value) == (None, 30.0)
    assert rows["Stage"].state_texts == ["State 1", "State 2", "State 3"]
    device = create_virtual_device(3100, "Copy", template="like_ahu_1")
    assert {o.name for o in device.virtual_objects.all()} == set(rows)


def test_a_device_without_points_makes_no_profile(building: dict[str, Any]) -> None:
    empty = BACnetDevice.objects.create(device_instance=9, address="127.0.0.9")
    with pytest.raises(services.ProfileError, match="no analog, binary or multi-state points"):
        services.profile_from_device(empty, "empty")


def test_a_profile_from_a_virtual_device_has_its_objects(building: dict[str, Any]) -> None:
    virtual = building["virtual"]
    profile = virtual_profiles.profile_from_virtual_device(virtual, "my_ahu")
    source = services.profile_named("air_handling_unit")
    assert [(o.object_type, o.name, o.units, o.default) for o in profile.profile_objects.all()] == [
        (o.object_type, o.name, o.units, o.default) for o in source.profile_objects.all()
    ]


def test_device_8888_exports_its_objects_by_their_bacnet_names(building: dict[str, Any]) -> None:
    rows = parse_ede(*encoded(virtual_profiles.bms_device_files()))
    assert rows[0].object_type == "device"
    names = {r.object_name for r in rows[1:]}
    assert "Virtual_2001_Supply_Air_Temperature" in names
    assert len(names) == building["virtual"].virtual_objects.count()


def test_device_8888_exports_its_objects_cov_alarm_and_trend_settings() -> None:
    services.create_profile("settings", "", SETTINGS)
    create_virtual_device(3200, "Settings", template="settings")
    rows = {r.object_name: r for r in parse_ede(*encoded(virtual_profiles.bms_device_files()))}
    assert [
        (r.cov_increment, r.deadband, r.time_delay, r.trend_log)
        for r in (rows["Virtual_3200_Return_Temp"], rows["Virtual_3200_Filter"])
    ] == [(0.25, 0.75, 45, True), (None, 0.0, 0, True)]


def test_an_ede_file_builds_a_virtual_device_or_nothing(building: dict[str, Any]) -> None:
    files = encoded(ede_files.profile_files(services.profile_named("hvac_controller")))
    device, imported = virtual_profiles.import_virtual_device(4001, "From EDE", "from_ede", *files)
    assert device.profile == imported.profile
    assert device.virtual_objects.count() == 2
    with pytest.raises(Exception, match="virtual device 4001 already exists"):
        virtual_profiles.import_virtual_device(4001, "Again", "again", *files)
    assert not DeviceProfile.objects.filter(name="again").exists()
    assert VirtualBACnetDevice.objects.filter(device_id=4001).count() == 1
