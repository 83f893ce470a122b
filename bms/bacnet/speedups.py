"""bacpypes3's `inspect.getattr_static` calls, answered from a per-class cache.

Why: bacpypes3 builds every Sequence (each decoded RPM result, each result element, each APDU)
through `Sequence.__init__`, which calls `inspect.getattr_static` once per unset element to skip
elements a class defines as a property. On Python 3.11 each call walks the MRO and checks every
metaclass for a shadowed `__dict__` (3.12 caches this): profiling the worker while it polls 50
devices showed a fifth of its CPU there, most of it decoding RPM answers.

What is cached: `getattr_static` answers from the first class of the MRO defining the name,
and from the instance's own `__dict__` when that holds the name and the class's value is not a
data descriptor. *Which* class that is depends on the class alone, so it is resolved once per
(class, name, in the instance dict or not), checked once against the real lookup, and the values
are then read live. A class passed as the object, or a class the real lookup answers for
otherwise, goes to the real `inspect.getattr_static`. Tests compare both over every bacpypes3
Sequence class and our local objects. bacpypes3's local `Object.__setattr__` looks up names
that live in the instance dict (presentValue, on every change): those are cached too.

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
    "bacpypes3.constructeddata",
    "bacpypes3.local.object",
    "bacpypes3.service.object",
)

_real_getattr_static = inspect.getattr_static
_NOWHERE = object()  # the name is defined nowhere in the class's MRO
_UNCACHEABLE = object()  # the real lookup answers otherwise than the rule below (a quirk)
# (class, name, whether the instance's own __dict__ holds the name) -> defining class
_owners: dict[tuple[type, str, bool], Any] = {}
_data_descriptor_types: dict[type, bool] = {}


def cached_getattr_static(obj: Any, attr: str, *default: Any) -> Any:
    """`inspect.getattr_static(obj, attr[, default])`, with the class lookup cached.

    The rule, as in `inspect`: a data descriptor in the class wins over the instance's own
    value, which wins over anything else in the class.
    """
    if isinstance(obj, type):
        return _real_getattr_static(obj, attr, *default)
    instance = _instance_dict(obj)
    in_instance = attr in instance
    key = (type(obj), attr, in_instance)
    owner = _owners.get(key)
    if owner is None:
        owner = _owners[key] = _defining_class(obj, attr, in_instance)
    if owner is _UNCACHEABLE:
        return _real_getattr_static(obj, attr, *default)
    return _answer(owner, instance, attr, in_instance, default)


def _answer(
    owner: Any, instance: Any, attr: str, in_instance: bool, default: tuple[Any, ...]
) -> Any:
    if owner is not _NOWHERE:
        found = vars(owner)[attr]
        if not in_instance or _is_data_descriptor(found):
            return found
    if in_instance:
        return instance[attr]
    if default:
        return default[0]
    raise AttributeError(attr)


def _instance_dict(obj: Any) -> Any:
    try:
        return object.__getattribute__(obj, "__dict__")
    except AttributeError:  # __slots__ and no __dict__
        return {}


def _is_data_descriptor(value: Any) -> bool:
    """Whether `value`'s type defines __get__ and __set__ or __delete__, looked up statically."""
    kind = type(value)
    known = _data_descriptor_types.get(kind)
    if known is None:

        def defines(name: str) -> bool:
            return any(name in vars(klass) for klass in kind.__mro__)

        known = _data_descriptor_types[kind] = defines("__get__") and (
            defines("__set__") or defines("__delete__")
        )
    return known


def _defining_class(obj: Any, attr: str, in_instance: bool) -> Any:
    """The first class of the MRO holding `attr`, if the rule then answers as the real lookup
    does for `obj` (else _UNCACHEABLE: every such lookup goes to the real one)."""
    owner = next((klass for klass in type(obj).__mro__ if attr in vars(klass)), _NOWHERE)
    try:
        expected = _real_getattr_static(obj, attr)
    except AttributeError:
        expected = _NOWHERE
    ours = _answer(owner, _instance_dict(obj), attr, in_instance, (_NOWHERE,))
    return owner if ours is expected else _UNCACHEABLE


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
    return all(
        importlib.import_module(name).inspect is _proxy  # type: ignore[attr-defined]
        for name in PATCHED_MODULES
    )
