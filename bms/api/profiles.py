"""Device profiles over the API: list, read, create (from scratch, as a copy, from a discovered or
a virtual device, from an EDE file), change, delete, and export as EDE, through bms.profiles'
services: what they refuse is a 400 with the reason (an EDE file's names its line), a taken name
or a profile in use a 409, a body that does not fit the schema a 422; every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from bms.api.auth import require_operator
from bms.api.devices import get_device
from bms.api.fields import BodyIn, InValue, Kept, StrictBool, StrictFloat, StrictInt, Text
from bms.api.responses import reading, writing
from bms.api.virtual import get_virtual
from bms.bacnet.commanding import MAX_INSTANCE
from bms.profiles import ede_files, services
from bms.profiles.definitions import MAX_STORED_TIME_DELAY, ObjectDefinition
from bms.profiles.models import DeviceProfile
from bms.profiles.services import NAME_LENGTH
from bms.virtual import profiles as virtual_profiles

router = Router(tags=["device profiles"])

Number = StrictFloat | StrictInt
MAX_OBJECTS = 5000


class StrictIn(BodyIn):
    model_config = ConfigDict(extra="forbid")


class ProfileObjectIn(StrictIn):
    object_type: Text = Field(max_length=40)
    name: Text = Field(min_length=1, max_length=200)
    description: Text = ""
    units: Text = Field(default="", max_length=80)
    default: InValue = None
    min_value: Number | None = None
    max_value: Number | None = None
    state_texts: list[Text] = Field(default=[], max_length=256)
    cov_increment: Number | None = None
    instance: StrictInt | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    commandable: StrictBool | None = None
    notification_class: StrictInt | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    high_limit: Number | None = None
    low_limit: Number | None = None
    deadband: Number = Field(default=0.0, ge=0)
    time_delay: StrictInt = Field(default=0, ge=0, le=MAX_STORED_TIME_DELAY)
    trend_log: StrictBool = False

    def definition(self) -> ObjectDefinition:
        values = self.model_dump()
        values["state_texts"] = tuple(values["state_texts"])
        return ObjectDefinition(**values)


class ProfileIn(StrictIn):
    name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    description: Text = ""
    objects: list[ProfileObjectIn] = Field(default=[], max_length=MAX_OBJECTS)


class ProfilePatch(StrictIn):
    name: Kept[Text] = Field(default=None, min_length=1, max_length=NAME_LENGTH)
    description: Kept[Text] = None
    objects: Kept[list[ProfileObjectIn]] = Field(default=None, max_length=MAX_OBJECTS)


class ProfileCopyIn(StrictIn):
    name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    description: Text | None = None


class ProfileFromDeviceIn(StrictIn):
    device_id: StrictInt  # a discovered device's id (/devices/{id})
    name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    description: Text = ""


class ProfileFromVirtualIn(StrictIn):
    device_id: StrictInt = Field(ge=0, le=MAX_INSTANCE)  # a virtual device's device id
    name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    description: Text = ""


class ProfileObjectOut(Schema):
    object_type: str
    instance: int
    name: str
    description: str
    units: str
    default: Any
    min_value: float | None
    max_value: float | None
    state_texts: list[str]
    commandable: bool
    cov_increment: float | None
    notification_class: int | None
    high_limit: float | None
    low_limit: float | None
    deadband: float
    time_delay: int
    trend_log: bool


class ProfileOut(Schema):
    id: int
    name: str
    description: str
    built_in: bool
    created_at: datetime
    updated_at: datetime
    virtual_devices: list[int]  # device ids of the virtual devices built from it


class ProfileDetailOut(ProfileOut):
    objects: list[ProfileObjectOut]


class ProfileImportOut(ProfileDetailOut):
    skipped: list[str]  # rows a profile cannot hold: "line 4: trend-log 1 (Log)"


class EdeFilesOut(Schema):
    main: str  # the EDE main file (semicolon-separated, CRLF)
    state_texts: str  # the state-text file its state-text-reference column points into


class ImportForm(Schema):
    name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    description: Text = ""
    device_instance: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)


def get_profile(profile_id: int) -> DeviceProfile:
    profile = DeviceProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        raise HttpError(404, f"there is no profile with id {profile_id}")
    return profile


def summary(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "id": profile.pk,
        "name": profile.name,
        "description": profile.description,
        "built_in": profile.built_in,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "virtual_devices": list(profile.virtual_devices.values_list("device_id", flat=True)),
    }


def detail(profile: DeviceProfile) -> dict[str, Any]:
    return {**summary(profile), "objects": list(profile.profile_objects.all())}


@router.get("/profiles", response=reading(list[ProfileOut], lookup=False, query=False))
def list_profiles(request: HttpRequest) -> list[dict[str, Any]]:
    services.profile_names()  # the built-in ones, seeded again if missing
    return [summary(profile) for profile in DeviceProfile.objects.all()]


@router.post("/profiles", response=writing(201, ProfileDetailOut))
def create_profile(request: HttpRequest, body: ProfileIn) -> Status[Any]:
    """A profile with its objects, each checked as device 8888 would serve it."""
    require_operator(request)
    objects = [obj.definition() for obj in body.objects]
    return Status(201, detail(services.create_profile(body.name, body.description, objects)))


# Literal paths before /profiles/{profile_id}, which would take them as an id.


@router.post("/profiles/from-device", response=writing(201, ProfileDetailOut))
def profile_from_device(request: HttpRequest, body: ProfileFromDeviceIn) -> Status[Any]:
    """A profile of a discovered device's analog, binary and multi-state points."""
    require_operator(request)
    device = get_device(body.device_id)
    return Status(201, detail(services.profile_from_device(device, body.name, body.description)))


@router.post("/profiles/from-virtual-device", response=writing(201, ProfileDetailOut))
def profile_from_virtual(request: HttpRequest, body: ProfileFromVirtualIn) -> Status[Any]:
    require_operator(request)
    device = get_virtual(body.device_id)
    profile = virtual_profiles.profile_from_virtual_device(device, body.name, body.description)
    return Status(201, detail(profile))


@router.post("/profiles/import-ede", response=writing(201, ProfileImportOut))
def import_ede(
    request: HttpRequest,
    form: Form[ImportForm],
    main: File[UploadedFile],
    state_texts: UploadedFile | None = File(None),  # noqa: B008 - ninja's parameter marker
) -> Status[Any]:
    """A profile from an EDE main file (and its state-text file): one device's analog, binary
    and multi-state objects (`device_instance` when the file has several). A refused file is a
    400 naming its line ("line 7: ..."), and nothing is stored."""
    require_operator(request)
    texts = state_texts.read() if state_texts is not None else None
    imported = ede_files.import_profile(
        form.name, form.description, main.read(), texts, form.device_instance
    )
    return Status(201, {**detail(imported.profile), "skipped": list(imported.skipped)})


@router.get("/profiles/{profile_id}", response=reading(ProfileDetailOut))
def read_profile(request: HttpRequest, profile_id: int) -> dict[str, Any]:
    return detail(get_profile(profile_id))


@router.patch("/profiles/{profile_id}", response=writing(200, ProfileDetailOut))
def update_profile(request: HttpRequest, profile_id: int, body: ProfilePatch) -> dict[str, Any]:
    """Rename, describe, or replace all the objects; built-in profiles are read-only."""
    require_operator(request)
    changes = body.model_dump(exclude_unset=True)
    if "objects" in changes:
        changes["objects"] = [obj.definition() for obj in body.objects or []]
    return detail(services.update_profile(get_profile(profile_id), **changes))


@router.delete("/profiles/{profile_id}", response=writing(204, None))
def delete_profile(request: HttpRequest, profile_id: int) -> Status[Any]:
    """409 while virtual devices were built from it; 400 for a built-in one."""
    require_operator(request)
    services.delete_profile(get_profile(profile_id))
    return Status(204, None)


@router.post("/profiles/{profile_id}/copy", response=writing(201, ProfileDetailOut))
def copy_profile(request: HttpRequest, profile_id: int, body: ProfileCopyIn) -> Status[Any]:
    require_operator(request)
    copied = services.copy_profile(get_profile(profile_id), body.name, body.description)
    return Status(201, detail(copied))


class VirtualImportForm(Schema):
    device_id: int = Field(ge=0, le=MAX_INSTANCE)
    device_name: Text = Field(min_length=1, max_length=255)
    profile_name: Text = Field(min_length=1, max_length=NAME_LENGTH)
    device_instance: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)


class VirtualImportOut(Schema):
    device_id: int
    profile: ProfileImportOut


@router.post("/profiles/import-ede/virtual-device", response=writing(201, VirtualImportOut))
def import_ede_virtual_device(
    request: HttpRequest,
    form: Form[VirtualImportForm],
    main: File[UploadedFile],
    state_texts: UploadedFile | None = File(None),  # noqa: B008 - ninja's parameter marker
) -> Status[Any]:
    """A profile from an EDE file (as /profiles/import-ede) and a virtual device built from it
    (/virtual-devices/{device_id}), both or neither."""
    require_operator(request)
    texts = state_texts.read() if state_texts is not None else None
    device, imported = virtual_profiles.import_virtual_device(
        form.device_id,
        form.device_name,
        form.profile_name,
        main.read(),
        texts,
        form.device_instance,
    )
    profile = {**detail(imported.profile), "skipped": list(imported.skipped)}
    return Status(201, {"device_id": device.device_id, "profile": profile})


@router.get("/profiles/{profile_id}/ede", response=reading(EdeFilesOut))
def profile_ede(request: HttpRequest, profile_id: int) -> dict[str, str]:
    """The profile as EDE files (object instances as in the profile, device instance 0). After
    the standard columns come BMS's own, bms-cov-increment, bms-deadband, bms-time-delay and
    bms-trend-log, which /profiles/import-ede reads back: the round trip keeps the profile."""
    main, texts = ede_files.profile_files(get_profile(profile_id))
    return {"main": main, "state_texts": texts}
