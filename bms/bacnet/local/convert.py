"""Conversions the device side needs on top of bms.bacnet.values."""

from __future__ import annotations

from bacpypes3.basetypes import PriorityValue
from bacpypes3.primitivedata import Null

from bms.bacnet.values import present_value_to_bacnet
from bms.bacnet.values import to_python as to_plain

__all__ = ["present_value_to_bacnet", "priority_value", "to_plain"]


def priority_value(value: object) -> PriorityValue:
    """One priority-array entry holding a bacpypes3 present value (Null relinquishes)."""
    if isinstance(value, Null):
        return PriorityValue(null=())
    return PriorityValue(value)
