"""Device profiles: the list (with the ways to make one: from scratch, from an EDE file, from a
discovered or a virtual device), a profile's objects (add, remove), copy, delete, and its EDE
files, through bms.profiles' services as the API uses them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.profiles import ede_files, services
from bms.profiles.models import DeviceProfile
from bms.virtual import profiles as virtual_profiles
from bms.virtual.services import VirtualDeviceError, create_virtual_device
from bms.virtual.templates import UnknownTemplate
from bms.web.profile_forms import (
    BuildForm,
    CopyForm,
    EdeProfileForm,
    FromDeviceForm,
    FromVirtualForm,
    ProfileForm,
    ProfileObjectForm,
)
from bms.web.views.common import done, operator_action
from bms.web.views.engineering import ede_download

SECTION = "profiles"


@login_required
def profile_list(request: HttpRequest, **forms: Any) -> HttpResponse:
    services.profile_names()  # the built-in ones, seeded again if missing
    context = {
        "profiles": DeviceProfile.objects.prefetch_related("profile_objects", "virtual_devices"),
        "create_form": forms.get("create_form") or ProfileForm(),
        "ede_form": forms.get("ede_form") or EdeProfileForm(),
        "device_form": forms.get("device_form") or FromDeviceForm(),
        "virtual_form": forms.get("virtual_form") or FromVirtualForm(),
        "section": SECTION,
    }
    return render(request, "web/profiles.html", context, status=400 if forms else 200)


@operator_action
def profile_create(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            profile = services.create_profile(**form.cleaned_data)
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            return _created(request, profile)
    return profile_list(request, create_form=form)


@operator_action
def profile_import(request: HttpRequest) -> HttpResponse:
    """A profile from an EDE file; a refused file's error names its line, nothing is stored."""
    form = EdeProfileForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            imported = ede_files.import_profile(
                data["name"], data["description"], *form.contents(), data["device_instance"]
            )
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            skipped = f" (skipped: {'; '.join(imported.skipped)})" if imported.skipped else ""
            return _created(request, imported.profile, skipped)
    return profile_list(request, ede_form=form)


@operator_action
def profile_from_device(request: HttpRequest) -> HttpResponse:
    form = FromDeviceForm(request.POST)
    if form.is_valid():
        try:
            profile = services.profile_from_device(
                form.cleaned_data["device"], form.cleaned_data["name"]
            )
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            return _created(request, profile)
    return profile_list(request, device_form=form)


@operator_action
def profile_from_virtual(request: HttpRequest) -> HttpResponse:
    form = FromVirtualForm(request.POST)
    if form.is_valid():
        try:
            profile = virtual_profiles.profile_from_virtual_device(
                form.cleaned_data["device"], form.cleaned_data["name"]
            )
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            return _created(request, profile)
    return profile_list(request, virtual_form=form)


def _created(request: HttpRequest, profile: DeviceProfile, more: str = "") -> HttpResponse:
    return done(request, f"Profile {profile.name} created{more}", _detail(profile))


@login_required
def profile_detail(request: HttpRequest, pk: int, **forms: Any) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    context = {
        "profile": profile,
        "objects": profile.profile_objects.all(),
        "devices": profile.virtual_devices.all(),
        "object_form": forms.get("object_form") or ProfileObjectForm(),
        "copy_form": forms.get("copy_form") or CopyForm(),
        "build_form": forms.get("build_form") or BuildForm(),
        "error": forms.get("error", ""),
        "section": SECTION,
    }
    return render(request, "web/profile_detail.html", context, status=400 if forms else 200)


@operator_action
def profile_add_object(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    form = ProfileObjectForm(request.POST)
    if form.is_valid():
        try:
            services.add_object(profile, form.definition())
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, f"{form.cleaned_data['name']} added", _detail(profile))
    return profile_detail(request, pk, object_form=form)


@operator_action
def profile_remove_object(request: HttpRequest, pk: int, object_pk: int) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    row = get_object_or_404(profile.profile_objects, pk=object_pk)
    try:
        services.remove_object(profile, row.pk)
    except services.ProfileError as exc:
        return profile_detail(request, pk, error=str(exc))
    return done(request, f"{row.name} removed", _detail(profile))


@operator_action
def profile_copy(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    form = CopyForm(request.POST)
    if form.is_valid():
        try:
            copied = services.copy_profile(profile, form.cleaned_data["name"])
        except services.ProfileError as exc:
            form.add_error(None, str(exc))
        else:
            return _created(request, copied)
    return profile_detail(request, pk, copy_form=form)


@operator_action
def profile_build(request: HttpRequest, pk: int) -> HttpResponse:
    """A virtual device built from this profile (as the virtual-device form makes one)."""
    profile = get_object_or_404(DeviceProfile, pk=pk)
    form = BuildForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            device = create_virtual_device(
                data["device_id"], data["device_name"], profile.description, profile.name
            )
        except (VirtualDeviceError, UnknownTemplate) as exc:
            form.add_error(None, str(exc))
        else:
            back = reverse("web:virtual", args=[device.device_id])
            return done(request, f"Virtual device {device.device_id} created", back)
    return profile_detail(request, pk, build_form=form)


@operator_action
def profile_delete(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    try:
        services.delete_profile(profile)
    except services.ProfileError as exc:
        return profile_detail(request, pk, error=str(exc))
    return done(request, f"Profile {profile.name} deleted", reverse("web:profiles"))


@login_required
def profile_ede(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    profile = get_object_or_404(DeviceProfile, pk=pk)
    return ede_download(ede_files.profile_files(profile), part, f"profile-{profile.pk}")


def _detail(profile: DeviceProfile) -> str:
    return reverse("web:profile", args=[profile.pk])
