"""bacpypes3's `inspect.getattr_static` calls, answered from a per-class cache.

Why: bacpypes3 builds every Sequence (each decoded RPM result, each result element, each APDU)
through `Sequence.__init__`, which calls `inspect.getattr_static` once per unset element to skip
elements a class defines as a property. On Python 3.11 each call walks the MRO and checks every
metaclass for a shadowed `__dict__` (3.12 caches this): profiling the worker while it polls 50
devices showed a fifth of its CPU there, most of it decoding RPM answers.

What is cached: for an instance whose own `__dict__` does not hold the name, `getattr_static`
returns what the first class of its MRO defining the name holds; *which* class that is depends
on the class alone, so it is resolved once per (class, name) and the value is then read live from
that class's dict. Anything else (a name in the instance dict, a class passed as the object) goes
to the real `inspect.getattr_static`. Tests compare both over every bacpypes3 Sequence class.

`install()` swaps the `inspect` that bacpypes3's modules see for a proxy whose `getattr_static`
is the cached one and whose every other attribute is the real module's; nothing else changes.
The engine and the simulator install it; the benchmarks' plain bacpypes3 baselines do not.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

# Modules of bacpypes3 that call inspect.getattr_static on hot paths.
PATCHED_MODULES = (
    "bacpypes3.constructeddata", "bacpypes3.local.object", "bacpypes3.service.object")

_real_getattr_static = inspect.getattr_static
_NOWHERE = object()  # the name is defined nowhere in the class's MRO
_UNCACHEABLE = object()  # found where the MRO walk does not see (a metaclass quirk)
_owners: dict[tuple[type, str], Any] = {}


def cached_getattr_static(obj: Any, attr: str, *default: Any) -> Any:
    """`inspect.getattr_static(obj, attr[, default])`, with the class lookup cached."""
    if isinstance(obj, type) or attr in _instance_dict(obj):
        return _real_getattr_static(obj, attr, *default)
    cls = type(obj)
    owner = _owners.get((cls, attr))
    if owner is None:
        owner = _owners[(cls, attr)] = _defining_class(obj, cls, attr)
    if owner is _UNCACHEABLE:
        return _real_getattr_static(obj, attr, *default)
    if owner is _NOWHERE:
        if default:
            return default[0]
        raise AttributeError(attr)
    return vars(owner)[attr]


def _instance_dict(obj: Any) -> Any:
    try:
        return object.__getattribute__(obj, "__dict__")
    except AttributeError:  # __slots__ and no __dict__
        return ()


def _defining_class(obj: Any, cls: type, attr: str) -> Any:
    """The class whose dict holds what the real getattr_static returns (or why there is none)."""
    try:
        found = _real_getattr_static(obj, attr)
    except AttributeError:
        return _NOWHERE
    for klass in cls.__mro__:
        if attr in vars(klass) and vars(klass)[attr] is found:
            return klass
    return _UNCACHEABLE


class _InspectProxy(ModuleType):
    """The `inspect` module with `getattr_static` replaced."""

    def __init__(self) -> None:
        super().__init__("inspect", inspect.__doc__)
        self.getattr_static = cached_getattr_static

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


_proxy = _InspectProxy()


def install() -> None:
    """Point bacpypes3's hot modules at the cached getattr_static (idempotent)."""
    for name in PATCHED_MODULES:
        module = importlib.import_module(name)
        module.inspect = _proxy  # type: ignore[attr-defined]


def installed() -> bool:
    return all(importlib.import_module(name).inspect is _proxy  # type: ignore[attr-defined]
               for name in PATCHED_MODULES)
