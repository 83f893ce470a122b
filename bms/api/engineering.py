"""Engineering data over the API: EDE files of a discovered device, a site and the BMS device
(8888) itself; CSV point lists of a device and a site; a real device's expected points, imported
from an EDE file and compared with what discovery and point reads found."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema, UploadedFile
from ninja.errors import HttpError

from bms.api.auth import require_operator
from bms.api.devices import get_device
from bms.api.profiles import EdeFilesOut
from bms.api.responses import reading, writing
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.profiles import ede_files, expected, points
from bms.virtual import profiles as virtual_profiles

router = Router(tags=["engineering data"])

CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "CSV, a header line first",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class PointCheckOut(Schema):
    object_type: str
    instance: int
    name: str
    status: str  # missing, different, unexpected
    differences: list[str]


class ComparisonOut(Schema):
    expected: int  # points the EDE file listed (0: none imported)
    matching: int
    checks: list[PointCheckOut]  # the points that do not match


class ExpectedImportOut(Schema):
    expected: int


def site_devices(site: str) -> Any:
    devices = BACnetDevice.objects.filter(site=site)
    if not devices.exists():
        raise HttpError(404, f"site {site!r} has no discovered devices")
    return devices


@router.get("/devices/{device_pk}/ede", response=reading(EdeFilesOut))
def device_ede(request: HttpRequest, device_pk: int) -> dict[str, str]:
    """The device and its points as EDE files (limits and alarm settings where read)."""
    main, texts = ede_files.device_files(get_device(device_pk))
    return {"main": main, "state_texts": texts}


@router.get("/sites/{site}/ede", response=reading(EdeFilesOut))
def site_ede(request: HttpRequest, site: str) -> dict[str, str]:
    site_devices(site)
    main, texts = ede_files.site_files(site)
    return {"main": main, "state_texts": texts}


@router.get("/bms-device/ede", response=reading(EdeFilesOut, lookup=False, query=False))
def bms_device_ede(request: HttpRequest) -> dict[str, str]:
    """The BMS's own device (8888) with every virtual object under its BACnet name."""
    main, texts = virtual_profiles.bms_device_files()
    return {"main": main, "state_texts": texts}


@router.get("/devices/{device_pk}/points.csv", response=reading(None), openapi_extra=CSV_RESPONSE)
def device_points_csv(request: HttpRequest, device_pk: int) -> HttpResponse:
    device = get_device(device_pk)
    return _csv(device.points.select_related("device"), f"points-{device.device_instance}.csv")


@router.get("/sites/{site}/points.csv", response=reading(None), openapi_extra=CSV_RESPONSE)
def site_points_csv(request: HttpRequest, site: str) -> HttpResponse:
    site_devices(site)
    rows = BACnetPoint.objects.filter(device__site=site).select_related("device")
    return _csv(
        rows.order_by("device__device_instance", "object_type", "instance"), f"points-{site}.csv"
    )


def _csv(rows: Any, filename: str) -> HttpResponse:
    response = HttpResponse(
        points.csv_text(points.csv_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get("/devices/{device_pk}/expected-points", response=reading(ComparisonOut))
def expected_points(request: HttpRequest, device_pk: int) -> expected.Comparison:
    """The device's points against those its EDE file listed: missing, different, unexpected."""
    return expected.compare(get_device(device_pk))


@router.post("/devices/{device_pk}/expected-points", response=writing(200, ExpectedImportOut))
def import_expected_points(
    request: HttpRequest,
    device_pk: int,
    main: File[UploadedFile],
    state_texts: UploadedFile | None = File(None),  # noqa: B008 - ninja's parameter marker
) -> dict[str, int]:
    """Replace the device's expected points with its objects in the EDE file; a refused file
    is a 400 naming its line and changes nothing."""
    require_operator(request)
    device = get_device(device_pk)
    texts = state_texts.read() if state_texts is not None else None
    return {"expected": ede_files.import_expected_points(device, main.read(), texts)}
