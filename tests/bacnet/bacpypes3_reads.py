"""A property read the way bacpypes3's own local Object does it, to compare ours against."""

from __future__ import annotations

from bacpypes3.local.object import Object as BacpypesLocalObject


def bacpypes3_read(obj: object, name: str) -> object:
    """`getattr(obj, name, None)` through bacpypes3's `__getattribute__`, whatever ours does."""
    try:
        return BacpypesLocalObject.__getattribute__(obj, name)
    except AttributeError:
        return None
