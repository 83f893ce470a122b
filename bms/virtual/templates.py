"""Virtual device templates: the device profiles (bms.profiles) as the virtual-device services
read them. The four built-in templates are now built-in profiles (bms.profiles.built_in seeds
them), and any profile a user adds is a template too, by its name."""

from __future__ import annotations

from dataclasses import dataclass

from bms.profiles import services as profiles
from bms.profiles.built_in import DEFAULT_NOTIFICATION_CLASS
from bms.profiles.definitions import ObjectDefinition

__all__ = [
    "DEFAULT_NOTIFICATION_CLASS",
    "DeviceTemplate",
    "ObjectTemplate",
    "UnknownTemplate",
    "get_template",
    "template_names",
]

ObjectTemplate = ObjectDefinition  # one object of a template: type, name, limits, default...


@dataclass(frozen=True)
class DeviceTemplate:
    key: str
    description: str
    objects: tuple[ObjectTemplate, ...]
    profile_id: int | None = None  # the profile it was read from


class UnknownTemplate(ValueError):
    pass


def get_template(key: str) -> DeviceTemplate:
    """The profile named `key` as a template; UnknownTemplate names the known ones."""
    try:
        profile = profiles.profile_named(key)
    except profiles.UnknownProfile:
        known = ", ".join(template_names())
        raise UnknownTemplate(f"unknown template {key!r}; known templates: {known}") from None
    return DeviceTemplate(
        profile.name, profile.description, tuple(profiles.definitions(profile)), profile.pk
    )


def template_names() -> list[str]:
    return profiles.profile_names()
