"""Local BACnet objects served by our device: validated points with priority arrays.

`ObjectSpec` describes one point in plain Python; `build_object` turns it into a bacpypes3
local object whose writes are validated (see `objects` for how a write is planned and applied).
"""

from bms.bacnet.local.build import build_object, current_spec
from bms.bacnet.local.objects import LOCAL_CLASSES, LocalPoint, WritePlan
from bms.bacnet.local.spec import ObjectSnapshot, ObjectSpec, virtual_object_name

__all__ = [
    "LOCAL_CLASSES",
    "LocalPoint",
    "ObjectSnapshot",
    "ObjectSpec",
    "WritePlan",
    "build_object",
    "current_spec",
    "virtual_object_name",
]
