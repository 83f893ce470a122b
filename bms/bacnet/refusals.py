"""What the audit says about an external write our device refused.

Built from what the peer sent, which may not even decode: a write refused before its value
could be cast to the property's type (unknown object, read-only property, wrong datatype) is
described by the value's own application tags, else by its octets in hex. The text must be
storable on every database we run on: PostgreSQL's text and jsonb refuse NUL.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.errors import ExecutionError, RejectException
from bacpypes3.primitivedata import TagClass, TagList

from bms.bacnet.commanding import is_priority
from bms.bacnet.types import RefusedWrite
from bms.bacnet.values import to_python


def refused_write(
    object_id: Any, prop: Any, value: Any, priority: int | None, source: Any, err: ExecutionError
) -> RefusedWrite:
    reason = f"{hyphenated(err.errorClass)}: {hyphenated(err.errorCode)}"
    if priority is not None and not is_priority(priority):
        # An Unsigned of any size: said in the reason, kept out of the priority column.
        reason, priority = f"{reason} (priority {priority})", None
    return RefusedWrite(
        object_id=f"{object_id[0]},{object_id[1]}",
        property=str(prop),
        value=describe(value),
        priority=priority,
        source_address=str(source),
        reason=reason,
    )


def hyphenated(name: Any) -> str:
    """bacpypes3 spells error codes in camelCase; BACnet (and our audit) in hyphens."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", str(name)).lower()


def describe(value: Any) -> str | None:
    """A refused value as text for the audit: it may not even have a Python form."""
    if value is None:
        return None
    if isinstance(value, AnyValue):  # refused before it could be cast to the property's type
        return audit_text(_describe_undecoded(value))
    try:
        return audit_text(str(to_python(value)))
    except (ValueError, TypeError, AttributeError):
        return audit_text(repr(value))


def _describe_undecoded(value: AnyValue) -> str:
    """What the peer sent, as its own application types say, else its octets in hex."""
    tags = list(value.tagList or [])
    if tags and tags[0].tag_class == TagClass.opening and tags[-1].tag_class == TagClass.closing:
        tags = tags[1:-1]  # the property-value's own context tags, not part of the value
    try:
        return ", ".join(str(to_python(tag.app_to_object())) for tag in tags)
    except (ValueError, TypeError, AttributeError, IndexError, struct.error, RejectException):
        # Context tags (a constructed value), or an application tag too short for its type.
        return f"undecodable: {bytes(TagList(tags).encode().pduData).hex()}"


def audit_text(text: str) -> str:
    """`text` as the audit can store it on any database: NUL (which PostgreSQL text and
    jsonb refuse) and lone surrogates are written as backslash escapes."""
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
