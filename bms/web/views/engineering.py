"""Engineering data pages: EDE files of a discovered device, a site and the BMS device (8888) to
download, and a device's expected points (import an EDE file, see what is missing or differs).
CSV point lists are the API's (/api/devices/{id}/points.csv), linked from the pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.devices.models import BACnetDevice
from bms.profiles import ede_files, expected, services
from bms.profiles.ede_files import Files
from bms.virtual import profiles as virtual_profiles
from bms.web.profile_forms import EdeUploadForm
from bms.web.views.common import done, operator_action

PARTS = {"main": ("EDE", 0), "states": ("StateTexts", 1)}


def ede_download(files: Files, part: str, stem: str) -> HttpResponse:
    """One of the two EDE files as an attachment: `part` "main" or "states"."""
    if part not in PARTS:
        raise Http404("an EDE export has a main file and a state-text file")
    suffix, index = PARTS[part]
    response = HttpResponse(files[index], content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}_{suffix}.csv"'
    return response


@login_required
def device_ede(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    return ede_download(ede_files.device_files(device), part, f"device-{device.device_instance}")


@login_required
def site_ede(request: HttpRequest, site: str, part: str) -> HttpResponse:
    if not BACnetDevice.objects.filter(site=site).exists():
        raise Http404(f"site {site} has no discovered devices")
    return ede_download(ede_files.site_files(site), part, f"site-{site}")


@login_required
def bms_ede(request: HttpRequest, part: str) -> HttpResponse:
    return ede_download(virtual_profiles.bms_device_files(), part, "bms-device")


@login_required
def expected_points(request: HttpRequest, pk: int, **context: Any) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    page = {
        "device": device,
        "comparison": expected.compare(device),
        "form": context.get("form") or EdeUploadForm(),
        "section": "device",
    }
    return render(request, "web/expected_points.html", page, status=400 if context else 200)


@operator_action
def expected_points_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace the device's expected points from an EDE file; a refused file names its line."""
    device = get_object_or_404(BACnetDevice, pk=pk)
    form = EdeUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            count = ede_files.import_expected_points(device, *form.contents())
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            back = reverse("web:expected_points", args=[pk])
            return done(request, f"{count} expected points imported", back)
    return expected_points(request, pk, form=form)
