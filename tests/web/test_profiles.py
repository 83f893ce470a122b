"""Device profile and engineering-data pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bms.profiles.models import DeviceProfile, ExpectedPoint
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db


def ede(main: bytes, texts: bytes | None = None, **fields: Any) -> dict[str, Any]:
    data = {**fields, "main": SimpleUploadedFile("x_EDE.csv", main)}
    if texts is not None:
        data["state_texts"] = SimpleUploadedFile("x_StateTexts.csv", texts)
    return data


def test_the_list_shows_the_built_in_profiles_and_the_ways_to_make_one(
    operator_client: Client,
) -> None:
    page = operator_client.get("/profiles/").content.decode()
    assert 'data-profile="air_handling_unit"' in page
    for section in ("new-profile", "import-ede", "from-device", "from-virtual"):
        assert f'id="{section}"' in page


def test_a_viewer_sees_profiles_but_cannot_make_one(viewer_client: Client) -> None:
    page = viewer_client.get("/profiles/").content.decode()
    assert 'id="new-profile"' not in page
    assert viewer_client.post("/profiles/new/", {"name": "x"}).status_code == 403


def test_a_profile_is_made_filled_copied_and_deleted(operator_client: Client) -> None:
    response = operator_client.post("/profiles/new/", {"name": "skid", "description": "d"})
    profile = DeviceProfile.objects.get(name="skid")
    assert response["Location"] == f"/profiles/{profile.pk}/"
    added = operator_client.post(
        f"/profiles/{profile.pk}/objects/",
        {"object_type": "binary-output", "name": "Pump", "state_texts": "Stop\nRun"},
    )
    assert added.status_code == 302
    row = profile.profile_objects.get()
    assert (row.state_texts, row.commandable) == (["Stop", "Run"], True)
    refused = operator_client.post(
        f"/profiles/{profile.pk}/objects/",
        {"object_type": "analog-value", "name": "SP", "default": "90", "max_value": "50"},
    )
    assert refused.status_code == 400
    assert "90 is out of range" in refused.content.decode()
    operator_client.post(f"/profiles/{profile.pk}/copy/", {"name": "skid2"})
    assert DeviceProfile.objects.get(name="skid2").profile_objects.count() == 1
    operator_client.post(f"/profiles/{profile.pk}/objects/{row.pk}/remove/")
    assert not profile.profile_objects.exists()
    operator_client.post(f"/profiles/{profile.pk}/delete/")
    assert not DeviceProfile.objects.filter(name="skid").exists()


def test_a_profile_in_use_is_not_deleted_and_the_page_says_why(operator_client: Client) -> None:
    operator_client.post("/profiles/new/", {"name": "skid"})
    profile = DeviceProfile.objects.get(name="skid")
    operator_client.post(
        f"/profiles/{profile.pk}/objects/", {"object_type": "analog-input", "name": "T"}
    )
    create_virtual_device(6001, "Skid", template="skid")
    response = operator_client.post(f"/profiles/{profile.pk}/delete/")
    assert response.status_code == 400
    assert "used by virtual device(s) 6001" in response.content.decode()
    assert DeviceProfile.objects.filter(name="skid").exists()


def test_an_ede_file_round_trips_through_the_pages(operator_client: Client) -> None:
    hvac = DeviceProfile.objects.get(name="hvac_controller")
    main = operator_client.get(f"/profiles/{hvac.pk}/ede/main/")
    texts = operator_client.get(f"/profiles/{hvac.pk}/ede/states/")
    assert main["Content-Disposition"] == f'attachment; filename="profile-{hvac.pk}_EDE.csv"'
    response = operator_client.post(
        "/profiles/import/", ede(main.content, texts.content, name="hvac2")
    )
    assert response.status_code == 302
    copy = DeviceProfile.objects.get(name="hvac2")
    again = operator_client.get(f"/profiles/{copy.pk}/ede/main/").content
    assert again.replace(b"hvac2", b"hvac_controller") == main.content


def test_a_malformed_ede_file_is_shown_with_its_line_and_nothing_stored(
    operator_client: Client,
) -> None:
    head = b"# keyname;device obj.-instance;object-name;object-type;object-instance"
    main = head + b"\nk;1;A;0;1\nk;1;B;0;1"
    response = operator_client.post("/profiles/import/", ede(main, name="bad"))
    assert response.status_code == 400
    assert "line 3: analog-input 1 of device 1 is already on line 2" in response.content.decode()
    assert not DeviceProfile.objects.filter(name="bad").exists()


def test_profiles_from_a_discovered_and_a_virtual_device(
    operator_client: Client, building: dict[str, Any]
) -> None:
    operator_client.post("/profiles/from-device/", {"device": building["device"].pk, "name": "a"})
    operator_client.post("/profiles/from-virtual/", {"device": building["virtual"].pk, "name": "b"})
    assert DeviceProfile.objects.get(name="a").profile_objects.count() == 4
    assert DeviceProfile.objects.get(name="b").profile_objects.count() == 7


def test_the_device_page_links_its_engineering_data(
    viewer_client: Client, building: dict[str, Any]
) -> None:
    pk = building["device"].pk
    page = viewer_client.get(f"/devices/{pk}/").content.decode()
    assert f"/devices/{pk}/ede/main/" in page
    assert f"/api/devices/{pk}/points.csv" in page
    assert b"AHU-1" in viewer_client.get(f"/devices/{pk}/ede/main/").content
    assert b"AHU-1" in viewer_client.get("/sites/default/ede/main/").content
    assert viewer_client.get("/sites/nowhere/ede/main/").status_code == 404
    assert b"Virtual_2001_" in viewer_client.get("/virtual/ede/main/").content
    assert "/sites/default/ede/main/" in viewer_client.get("/devices/").content.decode()


def test_expected_points_are_imported_and_reported(
    operator_client: Client, building: dict[str, Any]
) -> None:
    pk = building["device"].pk
    main = operator_client.get(f"/devices/{pk}/ede/main/").content
    texts = operator_client.get(f"/devices/{pk}/ede/states/").content
    assert (
        "No expected points yet" in operator_client.get(f"/devices/{pk}/expected/").content.decode()
    )
    building["ai"].delete()
    response = operator_client.post(f"/devices/{pk}/expected/import/", ede(main, texts))
    assert response.status_code == 302
    page = operator_client.get(f"/devices/{pk}/expected/").content.decode()
    assert "3 of 4 expected points found as listed" in page
    assert 'data-status="missing"' in page
    bad = operator_client.post(f"/devices/{pk}/expected/import/", ede(b"k,1,A"))
    assert bad.status_code == 400
    assert ExpectedPoint.objects.filter(device_id=pk).count() == 4


def test_the_device_page_says_how_its_points_compare_with_the_expected_ones(
    operator_client: Client, building: dict[str, Any]
) -> None:
    pk = building["device"].pk
    assert 'id="expected-summary"' not in operator_client.get(f"/devices/{pk}/").content.decode()
    main = operator_client.get(f"/devices/{pk}/ede/main/").content
    texts = operator_client.get(f"/devices/{pk}/ede/states/").content
    operator_client.post(f"/devices/{pk}/expected/import/", ede(main, texts))
    building["ao"].delete()
    page = operator_client.get(f"/devices/{pk}/").content.decode()
    assert "(3 of 4 as listed, 1 to look at)" in page


def test_a_virtual_device_is_built_from_the_profile_page(operator_client: Client) -> None:
    hvac = DeviceProfile.objects.get(name="hvac_controller")
    built = operator_client.post(
        f"/profiles/{hvac.pk}/build/", {"device_id": "6100", "device_name": "Built"}
    )
    assert built["Location"] == "/virtual/6100/"
    again = operator_client.post(
        f"/profiles/{hvac.pk}/build/", {"device_id": "6100", "device_name": "Again"}
    )
    assert again.status_code == 400
    assert "virtual device 6100 already exists" in again.content.decode()
