"""Device profiles, EDE files and CSV point lists over the API."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bms.devices.models import ConfigAudit
from bms.profiles.models import DeviceProfile, ExpectedPoint

pytestmark = pytest.mark.django_db

FAN = {"object_type": "binary-output", "name": "Fan", "state_texts": ["Off", "On"]}
TEMP = {"object_type": "analog-input", "name": "Temp", "units": "degrees-celsius", "default": 21}


def created(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/profiles", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def upload(main: bytes | str, texts: bytes | str | None = None, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(fields)
    data["main"] = SimpleUploadedFile(
        "x_EDE.csv", main if isinstance(main, bytes) else main.encode()
    )
    if texts is not None:
        raw = texts if isinstance(texts, bytes) else texts.encode()
        data["state_texts"] = SimpleUploadedFile("x_StateTexts.csv", raw)
    return data


def test_the_built_in_profiles_are_listed(viewer_client: Client) -> None:
    profiles = viewer_client.get("/api/profiles").json()
    assert {p["name"] for p in profiles if p["built_in"]} == {
        "air_handling_unit",
        "hvac_controller",
        "lighting_controller",
        "temperature_sensor",
    }


def test_a_profile_is_created_read_changed_and_deleted(operator_client: Client) -> None:
    profile = created(operator_client, {"name": "skid", "objects": [FAN, TEMP]})
    assert [(o["name"], o["instance"], o["default"]) for o in profile["objects"]] == [
        ("Temp", 1, 21.0),
        ("Fan", 1, None),
    ]
    url = f"/api/profiles/{profile['id']}"
    assert operator_client.get(url).json()["objects"] == profile["objects"]
    changed = operator_client.patch(url, {"objects": [FAN]}, content_type="application/json")
    assert [o["name"] for o in changed.json()["objects"]] == ["Fan"]
    assert operator_client.delete(url).status_code == 204
    actions = set(ConfigAudit.objects.values_list("action", flat=True))
    assert {"profile_created", "profile_changed", "profile_deleted"} <= actions


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "x", "objects": [{"object_type": "toaster", "name": "T"}]}, 400, "toaster"),
        ({"name": "x", "objects": [{**TEMP, "default": 99, "max_value": 50}]}, 400, "out of range"),
        ({"name": "x", "objects": [FAN, FAN]}, 400, "two objects are named 'Fan'"),
        ({"name": "x", "colour": "red"}, 422, "colour"),
        ({"name": "x", "objects": [{**FAN, "priority": 3}]}, 422, "priority"),
        ({"name": "", "objects": []}, 422, "name"),
        ({"name": "x", "objects": [{**TEMP, "min_value": "1"}]}, 422, "min_value"),
        ({"name": "temperature_sensor"}, 409, "already exists"),
        # One past what the database stores (a PostgreSQL integer), though BACnet allows it.
        ({"name": "x", "objects": [{**TEMP, "time_delay": 2**31}]}, 422, "time_delay"),
    ],
)
def test_a_bad_body_is_a_4xx_and_stores_nothing(
    operator_client: Client, body: dict[str, Any], status: int, words: str
) -> None:
    operator_client.get("/api/profiles")  # the built-in ones are there
    before = DeviceProfile.objects.count()
    response = operator_client.post("/api/profiles", body, content_type="application/json")
    assert response.status_code == status, response.content
    assert words in response.content.decode()
    assert DeviceProfile.objects.count() == before


def test_a_viewer_cannot_create(viewer_client: Client) -> None:
    response = viewer_client.post("/api/profiles", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_a_profile_in_use_is_a_409_and_a_built_in_one_a_400(operator_client: Client) -> None:
    profile = created(operator_client, {"name": "skid", "objects": [FAN]})
    device = {"device_id": 5001, "device_name": "Skid", "template": "skid"}
    assert (
        operator_client.post("/api/virtual-devices", device, "application/json").status_code == 201
    )
    response = operator_client.delete(f"/api/profiles/{profile['id']}")
    assert (response.status_code, response.json()["detail"]) == (
        409,
        "profile 'skid' is used by virtual device(s) 5001; delete them first or keep the profile",
    )
    assert operator_client.get(f"/api/profiles/{profile['id']}").json()["virtual_devices"] == [5001]
    built_in = DeviceProfile.objects.get(name="hvac_controller")
    assert operator_client.delete(f"/api/profiles/{built_in.pk}").status_code == 400


def test_copies_and_profiles_from_devices(
    operator_client: Client, building: dict[str, Any]
) -> None:
    hvac = DeviceProfile.objects.get(name="hvac_controller")
    copy = operator_client.post(
        f"/api/profiles/{hvac.pk}/copy", {"name": "mine"}, content_type="application/json"
    )
    assert [o["name"] for o in copy.json()["objects"]] == ["Temperature_Setpoint", "Fan_Control"]
    real = operator_client.post(
        "/api/profiles/from-device",
        {"device_id": building["device"].pk, "name": "like_ahu"},
        content_type="application/json",
    )
    assert {o["name"] for o in real.json()["objects"]} == {"Zone_Temp", "Damper", "Fan", "Mode"}
    virtual = operator_client.post(
        "/api/profiles/from-virtual-device",
        {"device_id": 2001, "name": "like_virtual"},
        content_type="application/json",
    )
    assert virtual.status_code == 201
    missing = operator_client.post(
        "/api/profiles/from-device", {"device_id": 999999, "name": "n"}, "application/json"
    )
    assert missing.status_code == 404


def test_ede_export_import_export_is_identical(operator_client: Client) -> None:
    ahu = DeviceProfile.objects.get(name="air_handling_unit")
    first = operator_client.get(f"/api/profiles/{ahu.pk}/ede").json()
    response = operator_client.post(
        "/api/profiles/import-ede", upload(first["main"], first["state_texts"], name="ahu2")
    )
    assert response.status_code == 201, response.content
    second = operator_client.get(f"/api/profiles/{response.json()['id']}/ede").json()
    assert (
        second["main"].replace("PROJECT_NAME;ahu2", "PROJECT_NAME;air_handling_unit")
        == first["main"]
    )
    assert second["state_texts"].split("\r\n")[6:] == first["state_texts"].split("\r\n")[6:]


@pytest.mark.parametrize(
    ("main", "line"),
    [
        (b"# keyname,device obj.-instance,object-name\nk,1,A", 1),
        (b"# keyname;device obj.-instance;object-name\nk;1;A", 1),
        (b"# keyname;device obj.-instance;object-name;object-type;object-instance\nk;1;A;66;1", 2),
        (
            b"#x\n# keyname;device obj.-instance;object-name;object-type;object-instance\n"
            b"k;1;A;0;1\nk;1;B;0;1",
            4,
        ),
        (
            b"# keyname;device obj.-instance;object-name;object-type;object-instance\nk;1;\xff;0;1",
            2,
        ),
    ],
    ids=["separator", "columns", "unknown-type", "duplicate", "not-utf-8"],
)
def test_a_malformed_ede_file_is_a_400_naming_its_line(
    operator_client: Client, main: bytes, line: int
) -> None:
    before = DeviceProfile.objects.count()
    response = operator_client.post("/api/profiles/import-ede", upload(main, name="bad"))
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"line {line}: ")
    assert DeviceProfile.objects.count() == before


def test_an_ede_file_builds_a_virtual_device(operator_client: Client) -> None:
    hvac = DeviceProfile.objects.get(name="hvac_controller")
    files = operator_client.get(f"/api/profiles/{hvac.pk}/ede").json()
    fields = {"device_id": 5002, "device_name": "From EDE", "profile_name": "from_ede"}
    response = operator_client.post(
        "/api/profiles/import-ede/virtual-device",
        upload(files["main"], files["state_texts"], **fields),
    )
    assert response.status_code == 201, response.content
    assert response.json()["device_id"] == 5002
    again = operator_client.post(
        "/api/profiles/import-ede/virtual-device",
        upload(files["main"], files["state_texts"], **{**fields, "profile_name": "other"}),
    )
    assert again.status_code == 409
    assert not DeviceProfile.objects.filter(name="other").exists()


def test_device_site_and_bms_exports(viewer_client: Client, building: dict[str, Any]) -> None:
    device = building["device"].pk
    assert "Zone_Temp" in viewer_client.get(f"/api/devices/{device}/ede").json()["main"]
    assert "AHU-1" in viewer_client.get("/api/sites/default/ede").json()["main"]
    assert viewer_client.get("/api/sites/nowhere/ede").status_code == 404
    assert "Virtual_2001_" in viewer_client.get("/api/bms-device/ede").json()["main"]
    response = viewer_client.get(f"/api/devices/{device}/points.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[5] for row in rows[1:]] == ["Zone_Temp", "Damper", "Fan", "Mode"]
    site = list(
        csv.reader(io.StringIO(viewer_client.get("/api/sites/default/points.csv").content.decode()))
    )
    assert len(site) == 5


def test_expected_points_are_imported_and_compared(
    operator_client: Client, building: dict[str, Any]
) -> None:
    device = building["device"].pk
    files = operator_client.get(f"/api/devices/{device}/ede").json()
    building["msv"].delete()
    response = operator_client.post(
        f"/api/devices/{device}/expected-points", upload(files["main"], files["state_texts"])
    )
    assert response.json() == {"expected": 4}
    report = operator_client.get(f"/api/devices/{device}/expected-points").json()
    assert (report["expected"], report["matching"]) == (4, 3)
    assert report["checks"] == [
        {
            "object_type": "multi-state-value",
            "instance": 1,
            "name": "Mode",
            "status": "missing",
            "differences": [],
        }
    ]
    bad = operator_client.post(f"/api/devices/{device}/expected-points", upload(b"\xff"))
    assert bad.status_code == 400
    assert ExpectedPoint.objects.filter(device_id=device).count() == 4
