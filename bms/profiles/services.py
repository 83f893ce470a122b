"""Device profiles for the pages, the API and the virtual-device services: find, create (from
scratch, as a copy, from a discovered device's points), change and delete. Every object is
checked as device 8888 would serve it (bms.profiles.definitions); what is refused stores nothing.
A profile that virtual devices were built from cannot be deleted (ProfileInUse)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.spec import normalize_object_type
from bms.devices import config_audit
from bms.devices.models import BACnetDevice
from bms.profiles import built_in
from bms.profiles.definitions import ObjectDefinition, checked, of_row, row_fields
from bms.profiles.models import DeviceProfile, ProfileObject
from bms.profiles.points import point_definitions

NAME_LENGTH = 60  # DeviceProfile.name, VirtualBACnetDevice.template


class ProfileError(ValueError):
    """A request the user can correct: a bad object, an unknown profile (the API answers 400)."""


class ProfileConflict(ProfileError):
    """The request conflicts with what is stored (the API answers 409)."""


class ProfileInUse(ProfileConflict):
    """Virtual devices were built from this profile."""


class UnknownProfile(ProfileError):
    pass


def profile_named(name: str) -> DeviceProfile:
    """The profile called `name`; a built-in one that is missing is seeded again first."""
    profile = DeviceProfile.objects.filter(name=name).first()
    if profile is None and name in built_in.NAMES:
        built_in.seed(DeviceProfile, ProfileObject)
        profile = DeviceProfile.objects.filter(name=name).first()
    if profile is None:
        known = ", ".join(profile_names())
        raise UnknownProfile(f"unknown profile {name!r}; known profiles: {known}")
    return profile


def profile_names() -> list[str]:
    """Every profile's name, the built-in ones always among them."""
    built_in.seed(DeviceProfile, ProfileObject)
    return list(DeviceProfile.objects.order_by("name").values_list("name", flat=True))


def definitions(profile: DeviceProfile) -> list[ObjectDefinition]:
    return [of_row(row) for row in profile.profile_objects.all()]


# ---- changes


def create_profile(
    name: str, description: str = "", objects: Sequence[ObjectDefinition] = ()
) -> DeviceProfile:
    """A new profile with `objects`, each checked; instances left open are numbered per type
    after the highest given. A taken name is a ProfileConflict."""
    rows = numbered(objects)
    clean = _checked_name(name)
    try:
        with transaction.atomic():
            profile = DeviceProfile.objects.create(name=clean, description=description)
            _store_objects(profile, rows)
            config_audit.record("profile_created", _target(profile), after=_audited(profile))
    except IntegrityError as exc:
        _refuse_taken_name(clean, exc)
    return profile


def update_profile(
    profile: DeviceProfile,
    *,
    name: str | None = None,
    description: str | None = None,
    objects: Sequence[ObjectDefinition] | None = None,
) -> DeviceProfile:
    """Rename, describe, or replace the objects (checked as on creation). Built-in profiles are
    kept as shipped (copy one to change it). Devices already built keep their objects."""
    _refuse_built_in(profile, "changed")
    rows = numbered(objects) if objects is not None else None
    before = _audited(profile)
    clean = _checked_name(name) if name is not None else profile.name
    try:
        with transaction.atomic():
            profile.name = clean
            if description is not None:
                profile.description = description
            profile.save()
            if rows is not None:
                profile.profile_objects.all().delete()
                _store_objects(profile, rows)
            config_audit.record(
                "profile_changed", _target(profile), before=before, after=_audited(profile)
            )
    except IntegrityError as exc:
        _refuse_taken_name(clean, exc)
    return profile


def delete_profile(profile: DeviceProfile) -> None:
    """Delete a profile no virtual device was built from."""
    _refuse_built_in(profile, "deleted")
    before = _audited(profile)
    try:
        with transaction.atomic():
            profile.delete()
            config_audit.record("profile_deleted", _target(profile), before=before)
    except ProtectedError as exc:
        devices = sorted(
            getattr(device, "device_id", device.pk) for device in exc.protected_objects
        )
        shown = ", ".join(str(device_id) for device_id in devices)
        raise ProfileInUse(
            f"profile {profile.name!r} is used by virtual device(s) {shown}; "
            "delete them first or keep the profile"
        ) from exc


def add_object(profile: DeviceProfile, obj: ObjectDefinition) -> DeviceProfile:
    """The profile with one more object (checked with the others)."""
    return update_profile(profile, objects=[*definitions(profile), obj])


def remove_object(profile: DeviceProfile, object_pk: int) -> DeviceProfile:
    kept = [of_row(row) for row in profile.profile_objects.exclude(pk=object_pk)]
    return update_profile(profile, objects=kept)


def copy_profile(
    profile: DeviceProfile, name: str, description: str | None = None
) -> DeviceProfile:
    """A new profile with the same objects (the way to change a built-in one)."""
    text = profile.description if description is None else description
    return create_profile(name, text, definitions(profile))


def profile_from_device(device: BACnetDevice, name: str, description: str = "") -> DeviceProfile:
    """A profile of a discovered device's analog, binary and multi-state points ("make a
    virtual device like this one"), with their names, instances, units, limits and texts."""
    objects = [_fitting(definition) for definition in point_definitions(device)]
    if not objects:
        raise ProfileError(
            f"device {device.device_instance} has no analog, binary or multi-state points "
            "yet; read its points first"
        )
    text = description or f"Made from device {device.device_instance} {device.name}".rstrip()
    return create_profile(name, text, objects)


def _fitting(definition: ObjectDefinition) -> ObjectDefinition:
    """A real point's value is a snapshot, not part of its definition: one that does not fit
    the limits or states read with it is left out rather than refusing the point."""
    try:
        checked(definition)
    except InvalidValueError:
        return replace(definition, default=None)
    return definition


# ---- checks and storage


def numbered(objects: Iterable[ObjectDefinition]) -> list[ObjectDefinition]:
    """Each object checked (the error names it by position and name), instances left open
    numbered per type after the highest given, names and identifiers unique."""
    typed = [_typed(position, obj) for position, obj in enumerate(objects, 1)]
    highest: dict[str, int] = {}
    for row in typed:
        if row.instance is not None:
            highest[row.object_type] = max(highest.get(row.object_type, 0), row.instance)
    out = [
        _checked_object(position, _with_instance(row, highest))
        for position, row in enumerate(typed, 1)
    ]
    _refuse_duplicates(out)
    return out


def _typed(position: int, obj: ObjectDefinition) -> ObjectDefinition:
    try:
        return replace(obj, object_type=normalize_object_type(obj.object_type))
    except InvalidValueError as exc:
        raise ProfileError(f"object {position} ({obj.name or obj.object_type}): {exc}") from exc


def _checked_object(position: int, obj: ObjectDefinition) -> ObjectDefinition:
    try:
        return checked(obj)
    except InvalidValueError as exc:
        raise ProfileError(f"object {position} ({obj.name or obj.object_type}): {exc}") from exc


def _with_instance(row: ObjectDefinition, highest: dict[str, int]) -> ObjectDefinition:
    if row.instance is not None:
        return row
    highest[row.object_type] = highest.get(row.object_type, 0) + 1
    return replace(row, instance=highest[row.object_type])


def _refuse_duplicates(rows: Sequence[ObjectDefinition]) -> None:
    names: set[str] = set()
    identifiers: set[tuple[str, int | None]] = set()
    for row in rows:
        if row.name in names:
            raise ProfileError(f"two objects are named {row.name!r}")
        identifier = (row.object_type, row.instance)
        if identifier in identifiers:
            raise ProfileError(f"two objects are {row.object_type} {row.instance}")
        names.add(row.name)
        identifiers.add(identifier)


def _store_objects(profile: DeviceProfile, rows: Sequence[ObjectDefinition]) -> None:
    ProfileObject.objects.bulk_create(
        ProfileObject(profile=profile, **row_fields(row)) for row in rows
    )


def _checked_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > NAME_LENGTH:
        raise ProfileError(f"a profile needs a name of 1..{NAME_LENGTH} characters")
    return clean


def _refuse_built_in(profile: DeviceProfile, what: str) -> None:
    if profile.built_in:
        raise ProfileError(
            f"built-in profile {profile.name!r} cannot be {what}; copy it to make your own"
        )


def _refuse_taken_name(name: str, exc: IntegrityError) -> NoReturn:
    if DeviceProfile.objects.filter(name=name).exists():
        raise ProfileConflict(f"a profile named {name!r} already exists") from exc
    raise exc


def _target(profile: DeviceProfile) -> str:
    return f"profile {profile.name}"


def _audited(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "description": profile.description,
        "objects": [
            f"{row.object_type},{row.instance} {row.name}" for row in profile.profile_objects.all()
        ],
    }
