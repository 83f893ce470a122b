"""One cell of an EDE file as a value, and a value as a cell: whole numbers, numbers (a decimal
comma read as a point), Y/N flags, and object types and units as their BACnet numbers.

`bms.bacnet.ede` reads rows with these and adds the line to a `CellError`; `bms.bacnet.ede_write`
writes with them, so what is written reads back the same.
"""

from __future__ import annotations

import math

from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.primitivedata import ObjectType

from bms.bacnet import commanding

_TRUE = frozenset({"y", "yes", "1", "true", "t", "x"})
_FALSE = frozenset({"n", "no", "0", "false", "f", ""})


class CellError(ValueError):
    """A cell that cannot be read; the row's loop adds the line."""


# ---- reading


def integer(cell: str, column: str) -> int:
    try:
        return int(cell.strip())
    except ValueError:
        raise CellError(f"{column} {cell!r} is not a whole number") from None


def optional_integer(cell: str, column: str) -> int | None:
    return integer(cell, column) if cell.strip() else None


def instance(cell: str, column: str) -> int:
    value = integer(cell, column)
    if not commanding.is_instance(value):
        raise CellError(f"{column} {value} is outside 0..{commanding.MAX_INSTANCE}")
    return value


def unsigned(cell: str, column: str, high: int) -> int | None:
    """A whole number 0..high, or None for an empty cell."""
    value = optional_integer(cell, column)
    if value is not None and not 0 <= value <= high:
        raise CellError(f"{column} {value} is outside 0..{high}")
    return value


def number(cell: str, column: str) -> float | None:
    """A number, or None for an empty cell; a decimal comma ("21,5") is read as a point."""
    text = cell.strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", ".") if "." not in text else text)
    except ValueError:
        raise CellError(f"{column} {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise CellError(f"{column} {cell!r} is not a finite number")
    return value


def non_negative(cell: str, column: str) -> float | None:
    """A number 0 or more (a COV increment, a deadband), or None for an empty cell."""
    value = number(cell, column)
    if value is not None and value < 0:
        raise CellError(f"{column} {cell!r} is below 0")
    return value


def flag(cell: str, column: str) -> bool:
    word = cell.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError(f"{column} {cell!r} is not Y or N")


def object_type(cell: str, column: str) -> str:
    name = _enum_name(ObjectType, integer(cell, column))
    if name is None:
        raise CellError(f"{column} {cell} is not a standard BACnet object type")
    return name


def units(cell: str, column: str) -> str:
    if not cell.strip():
        return ""
    name = _enum_name(EngineeringUnits, integer(cell, column))
    if name is None:
        raise CellError(f"{column} {cell} is not a standard BACnet engineering unit")
    return name


def _enum_name(enumeration: type[ObjectType] | type[EngineeringUnits], code: int) -> str | None:
    """The hyphenated name of a standard value; None for a number it has no name for."""
    try:
        name = str(enumeration(code))
    except ValueError:  # outside the enumeration's range
        return None
    return None if name.lstrip("-").isdigit() else name


# ---- writing, and BACnet numbers for callers that check names


def object_type_code(object_type: str) -> int:
    """The BACnet number of a standard object type ("analog-input" -> 0), else ValueError."""
    return _number_of(ObjectType, object_type, "object type")


def unit_code(units: str) -> int:
    """The BACnet number of a standard unit ("degrees-celsius" -> 62), else ValueError."""
    return _number_of(EngineeringUnits, units, "unit")


def _number_of(enumeration: type[ObjectType] | type[EngineeringUnits], name: str, what: str) -> int:
    try:
        code = int(enumeration(name))
    except ValueError:
        raise ValueError(f"{what} {name!r} has no BACnet number") from None
    if _enum_name(enumeration, code) != name:
        raise ValueError(f"{what} {name!r} has no BACnet number")
    return code


def number_text(value: float | None) -> str:
    """Enough digits to read back the same float; 22.0 is written 22."""
    if value is None:
        return ""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def integer_text(value: int | None) -> str:
    return "" if value is None else str(value)


def flag_text(value: bool) -> str:
    return "Y" if value else "N"
