"""EDE files in and out of the product: a profile from an EDE file (all or nothing, every refusal
naming its line), a profile's, a discovered device's and a site's objects as EDE files, and a
real device's expected points from an EDE file (compared in bms.profiles.expected).

A profile's COV increment, alarm deadband and time delay and trend logging, which EDE has no
column for, travel in our own columns after the standard ones (bms.bacnet.ede's BMS_COLUMNS), so
a profile exported and imported again is the same profile. A file from another tool has none of
them: its objects get no COV increment, a deadband and delay of 0 and no trend log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from bms.bacnet import ede, ede_cells
from bms.bacnet.ede_write import write_ede
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import COMMANDABLE_TYPES, POINT_TYPES, PresentValue
from bms.devices import config_audit
from bms.devices.models import BACnetDevice
from bms.profiles import points, services
from bms.profiles.definitions import ObjectDefinition, checked
from bms.profiles.models import DeviceProfile, ExpectedPoint, ProfileObject
from bms.profiles.services import ProfileError

Files = tuple[str, str]  # the main file, the state-text file
# A profile holds points; the device's own row is no object of it and is not reported skipped.
_NOT_SKIPPED = POINT_TYPES | {"device"}


@dataclass(frozen=True)
class ProfileImport:
    profile: DeviceProfile
    skipped: tuple[str, ...]  # objects a profile cannot hold, "line 4: trend-log 1 (Log)"


# ---- import


def parse(main: bytes, state_texts: bytes | None = None) -> list[ede.EdeObject]:
    """The file's objects, or ProfileError with the EDE error ("line 7: ...")."""
    try:
        return ede.parse_ede(main, state_texts or None)
    except ede.EdeError as exc:
        raise ProfileError(str(exc)) from exc


def import_profile(
    name: str,
    description: str,
    main: bytes,
    state_texts: bytes | None = None,
    device_instance: int | None = None,
) -> ProfileImport:
    """A new profile from the analog, binary and multi-state objects of one device of the file
    (`device_instance`, needed when the file has several); other object types are skipped and
    listed. Nothing is stored when any row is refused."""
    rows = _one_device(parse(main, state_texts), device_instance)
    wanted = [row for row in rows if row.object_type in POINT_TYPES]
    skipped = tuple(
        _skipped(row) for row in rows if row.object_type not in POINT_TYPES | {"device"}
    )
    if not wanted:
        raise ProfileError("the file has no analog, binary or multi-state objects")
    definitions = [_definition(row) for row in wanted]
    _refuse_same_names(wanted)
    with transaction.atomic():
        profile = services.create_profile(name, description, definitions)
    return ProfileImport(profile, skipped)


def _one_device(rows: list[ede.EdeObject], device_instance: int | None) -> list[ede.EdeObject]:
    devices = sorted({row.device_instance for row in rows})
    if device_instance is not None:
        if device_instance not in devices:
            raise ProfileError(f"the file has no objects of device {device_instance}{_of(devices)}")
        return [row for row in rows if row.device_instance == device_instance]
    if len(devices) > 1:
        raise ProfileError(f"the file describes several devices{_of(devices)}; choose one")
    return rows


def _of(devices: Sequence[int]) -> str:
    return f" (it has {', '.join(str(d) for d in devices)})" if devices else " (it has none)"


def _skipped(row: ede.EdeObject) -> str:
    return f"line {row.line}: {row.object_type} {row.instance} ({row.object_name})"


def _definition(row: ede.EdeObject) -> ObjectDefinition:
    """The row as a profile object, checked, or ProfileError naming its line."""
    definition = ObjectDefinition(
        object_type=row.object_type,
        name=row.object_name,
        description=row.description,
        units=row.units,
        default=row.present_value_default or None,
        min_value=row.min_value,
        max_value=row.max_value,
        state_texts=row.state_texts,
        instance=row.instance,
        commandable=row.commandable and row.object_type in COMMANDABLE_TYPES,
        notification_class=row.notification_class,
        high_limit=row.high_limit,
        low_limit=row.low_limit,
        cov_increment=row.cov_increment,
        deadband=0.0 if row.deadband is None else row.deadband,
        time_delay=0 if row.time_delay is None else row.time_delay,
        trend_log=row.trend_log,
    )
    try:
        return checked(definition)
    except InvalidValueError as exc:
        raise ProfileError(f"line {row.line}: {row.object_name}: {exc}") from exc


def _refuse_same_names(rows: Sequence[ede.EdeObject]) -> None:
    lines: dict[str, int] = {}
    for row in rows:
        if row.object_name in lines:
            raise ProfileError(
                f"line {row.line}: the name {row.object_name!r} is already on line "
                f"{lines[row.object_name]}"
            )
        lines[row.object_name] = row.line


# ---- export


def profile_files(
    profile: DeviceProfile, device_instance: int = 0, project_name: str | None = None
) -> Files:
    """The profile as EDE, its objects on device `device_instance` (a profile has none)."""
    rows = [profile_object(row, device_instance) for row in profile.profile_objects.all()]
    return write(rows, project_name or profile.name)


def profile_object(row: ProfileObject, device_instance: int) -> ede.EdeObject:
    # Device 8888 serves COV for each of its objects, so a profile's objects all support it.
    return ede.EdeObject(
        device_instance=device_instance,
        object_name=row.name,
        object_type=row.object_type,
        instance=row.instance,
        description=row.description,
        present_value_default=value_text(row.default),
        min_value=row.min_value,
        max_value=row.max_value,
        commandable=row.commandable,
        supports_cov=True,
        high_limit=row.high_limit,
        low_limit=row.low_limit,
        state_texts=tuple(row.state_texts or ()),
        units=row.units,
        notification_class=row.notification_class,
        cov_increment=row.cov_increment,
        deadband=row.deadband,
        time_delay=row.time_delay,
        trend_log=row.trend_log,
    )


def device_files(device: BACnetDevice) -> Files:
    return write(points.device_objects(device), f"{device.site} device {device.device_instance}")


def site_files(site: str) -> Files:
    """Every device of the site, each with its points."""
    devices = BACnetDevice.objects.filter(site=site).prefetch_related("points")
    rows = [row for device in devices for row in points.device_objects(device)]
    return write(rows, f"site {site}")


def write(rows: Sequence[ede.EdeObject], project_name: str) -> Files:
    return write_ede(rows, project_name, timestamp=date.today())


def value_text(value: PresentValue) -> str:
    """A present value as an EDE cell: 22.0 as "22", like ede's numbers."""
    if value is None:
        return ""
    if isinstance(value, float):
        return ede_cells.number_text(value)
    return str(value)


# ---- expected points


def import_expected_points(device: BACnetDevice, main: bytes, state_texts: bytes | None) -> int:
    """Replace the device's expected points with the file's objects of that device (its own
    device row left out); returns how many. Nothing changes when the file is refused."""
    rows = _one_device(parse(main, state_texts), device.device_instance)
    expected = [row for row in rows if row.object_type != "device"]
    with transaction.atomic():
        device.expected_points.all().delete()
        ExpectedPoint.objects.bulk_create(_expected(device, row) for row in expected)
        config_audit.record(
            "expected_points_imported",
            f"device {device.device_instance} {device.name}".rstrip(),
            after={"points": len(expected)},
        )
    return len(expected)


def _expected(device: BACnetDevice, row: ede.EdeObject) -> ExpectedPoint:
    return ExpectedPoint(
        device=device,
        object_type=row.object_type,
        instance=row.instance,
        name=row.object_name,
        description=row.description,
        units=row.units,
        state_texts=list(row.state_texts),
        commandable=row.commandable,
    )
