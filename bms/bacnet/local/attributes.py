"""Attribute reads on local objects without bacpypes3's per-read `inspect.getattr_static`.

Why: bacpypes3's local `Object.__getattribute__` looks every property name up statically
(`inspect.getattr_static`, 20-50 us) to find the rare property whose getter is a coroutine, which
it then runs in a thread. Serving one ReadProperty reads six properties of the device object
(each transaction's state machine copies its APDU limits from it) plus the point's value: about
a sixth of the device's CPU per request went there. Whether a name is such a property depends on
the class alone (a property is a data descriptor, so an instance value never shadows it), so it
is worked out once per class and every other read is a plain attribute lookup.
"""

from __future__ import annotations

import inspect
from typing import Any

_COROUTINE_PROPERTIES: dict[type, frozenset[str]] = {}


def coroutine_properties(cls: type) -> frozenset[str]:
    """Names `cls` (or a base) defines as a property whose getter or setter is a coroutine."""
    names = _COROUTINE_PROPERTIES.get(cls)
    if names is None:
        names = _COROUTINE_PROPERTIES[cls] = frozenset(
            name
            for klass in reversed(cls.__mro__)
            for name, member in vars(klass).items()
            if isinstance(member, property)
            and (
                inspect.iscoroutinefunction(member.fget) or inspect.iscoroutinefunction(member.fset)
            )
        )
    return names


class StaticAttributeReads:
    """Mixin placed before bacpypes3's local Object in the MRO.

    Reads give exactly what bacpypes3's `__getattribute__` gives (its element `get_attribute`
    is the plain getter), and coroutine properties still take bacpypes3's threaded path.
    """

    def __getattribute__(self, attr: str) -> Any:
        cls = type(self)
        slow = _COROUTINE_PROPERTIES.get(cls)
        if slow is None:
            slow = coroutine_properties(cls)
        if attr in slow:
            return super().__getattribute__(attr)
        return object.__getattribute__(self, attr)
