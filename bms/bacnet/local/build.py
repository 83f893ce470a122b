"""ObjectSpec -> a live local object (and back to a spec with the live state)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.constructeddata import ArrayOf
from bacpypes3.primitivedata import CharacterString, Null

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.convert import present_value_to_bacnet, priority_value, to_plain
from bms.bacnet.local.objects import LocalPoint, local_class
from bms.bacnet.local.reporting import alarm_kwargs, attach_reporting, live_alarm, reporting_class
from bms.bacnet.local.spec import ObjectSpec

DEFAULT_PRESENT_VALUES: dict[str, Any] = {"analog": 0.0, "binary": "inactive", "multistate": 1}


def build_object(spec: ObjectSpec) -> LocalPoint:
    """A bacpypes3 local object for `spec`, validated like a write from a peer would be."""
    kwargs = _common_kwargs(spec) | _KIND_KWARGS[spec.kind](spec) | _value_kwargs(spec)
    cls: type[LocalPoint] = local_class(spec.object_type, bool(spec.commandable))
    if spec.alarm is not None:
        kwargs |= alarm_kwargs(spec.object_type, spec.alarm)
        cls = reporting_class(cls)
    obj = cls(**kwargs)
    _check_in_range(obj, spec, kwargs)
    if spec.commandable:
        obj.recalculating()  # type: ignore[attr-defined]  # a restored array sets the value
    if spec.alarm is not None:
        attach_reporting(obj, spec.object_type)
    return obj


def current_spec(spec: ObjectSpec, obj: LocalPoint) -> ObjectSpec:
    """`spec` with the object's live values, ready to persist and restore later."""
    snap = obj.snapshot()
    return dataclasses.replace(
        spec,
        present_value=snap.present_value,
        relinquish_default=snap.relinquish_default,
        out_of_service=snap.out_of_service,
        priority_array=snap.priority_array,
        description=str(getattr(obj, "description", "") or ""),
        cov_increment=to_plain(getattr(obj, "covIncrement", None)),  # type: ignore[arg-type]
        alarm=None if spec.alarm is None else live_alarm(spec.alarm, obj),
    )


def _common_kwargs(spec: ObjectSpec) -> dict[str, Any]:
    return {
        "objectIdentifier": (spec.object_type, spec.instance),
        "objectName": spec.name,
        "description": spec.description,
        "outOfService": spec.out_of_service,
        "eventState": "normal",  # alarm_kwargs restores it for an object that reports
    }


def _analog_kwargs(spec: ObjectSpec) -> dict[str, Any]:
    try:
        units = EngineeringUnits(spec.units or "no-units")
    except ValueError as exc:
        raise InvalidValueError(f"{spec.ref}: unknown units {spec.units!r}") from exc
    kwargs: dict[str, Any] = {"units": units, "covIncrement": spec.cov_increment or 0.0}
    if spec.min_value is not None:
        kwargs["minPresValue"] = float(spec.min_value)
    if spec.max_value is not None:
        kwargs["maxPresValue"] = float(spec.max_value)
    return kwargs


def _binary_kwargs(spec: ObjectSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"activeText": spec.active_text, "inactiveText": spec.inactive_text}
    if spec.object_type != "binary-value":  # only inputs and outputs have a polarity
        kwargs["polarity"] = "normal"
    return kwargs


def _multistate_kwargs(spec: ObjectSpec) -> dict[str, Any]:
    return {
        "numberOfStates": len(spec.state_texts),
        "stateText": ArrayOf(CharacterString)(list(spec.state_texts)),
    }


_KIND_KWARGS = {
    "analog": _analog_kwargs,
    "binary": _binary_kwargs,
    "multistate": _multistate_kwargs,
}


def _value_kwargs(spec: ObjectSpec) -> dict[str, Any]:
    default = DEFAULT_PRESENT_VALUES[spec.kind]
    present = spec.present_value if spec.present_value is not None else default
    if not spec.commandable:
        return {"presentValue": _to_bacnet(spec, present)}
    relinquish = spec.relinquish_default if spec.relinquish_default is not None else present
    array = spec.priority_array or (None,) * 16
    return {
        "presentValue": _to_bacnet(spec, relinquish),
        "relinquishDefault": _to_bacnet(spec, relinquish),
        "priorityArray": [
            priority_value(Null(()) if entry is None else _to_bacnet(spec, entry))
            for entry in array
        ],
    }


def _to_bacnet(spec: ObjectSpec, value: Any) -> Any:
    try:
        return present_value_to_bacnet(spec.object_type, value)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{spec.ref}: {exc}") from exc


def _check_in_range(obj: LocalPoint, spec: ObjectSpec, kwargs: dict[str, Any]) -> None:
    values = [kwargs["presentValue"], kwargs.get("relinquishDefault")]
    values += [getattr(entry, entry._choice) for entry in kwargs.get("priorityArray", ())]
    for value in values:
        if value is not None and not isinstance(value, Null) and not obj._in_range(value):
            raise InvalidValueError(f"{spec.ref}: {to_plain(value)!r} is out of range")
