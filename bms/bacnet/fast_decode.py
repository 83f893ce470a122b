"""Notifications read straight from their octets, anything unusual left to bacpypes3: the part
that bms.bacnet.cov_decode and bms.bacnet.event_decode share.

Why it exists: both modules take a notification service off bacpypes3's generic decoder, which
builds a TagList and an object per parameter (py-spy: 22 % of the event loop at 200 COV
notifications a second, 45 % at 1,000 event notifications a second). Each needs the same two
halves around what is its own (which parameters, what they mean): a reader of BACnet tags over
the parameters' octets, and a hook that puts the reading into bacpypes3's flow. These were two
copies; they live here once, so a fix to either reaches both services.

Tags (clause 20.2.1): `TagReader` reads any tag; `StrictTagReader` refuses what a COV
notification's values never need (an extended tag number, an application boolean, a long
length), so such a notification goes to bacpypes3 whole, as it always did.

The hook: `install(read_fields, attribute, *requests)` wraps `APCISequence.decode` once, for
every service installed, so the services compose in any order. A request whose parameters
`read_fields` reads cleanly becomes an instance of a subclass *named like bacpypes3's class*
(the Application dispatches on "do_" + the class name, so the same handler gets it), with
bacpypes3's header fields and the plain reading under `attribute`. Its bacpypes3 parameters are
decoded by bacpypes3, from the same octets, the first time anything reads one. When
`read_fields` raises NotRead, or the service is none of these, bacpypes3's decode gets the APDU
untouched: unusual and malformed notifications are read (or fail) exactly as without this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bacpypes3.apdu import APCISequence
from bacpypes3.primitivedata import ObjectType


class NotRead(Exception):
    """The reader does not take the octets as they are: bacpypes3 decodes them."""


# ---- tags (clause 20.2.1) ---------------------------------------------------------------------

PRIMITIVE, OPENING, CLOSING = 0, 1, 2
APPLICATION_BOOLEAN = 1
APPLICATION_UNSIGNED = 2
APPLICATION_REAL = 4
APPLICATION_BIT_STRING = 8
APPLICATION_ENUMERATED = 9
APPLICATION_DATE = 10
APPLICATION_TIME = 11


class TagReader:
    """The tags of a service's parameters, one after the other; NotRead where they do not fit."""

    # Strict: an extended tag number, an application boolean or a long length is NotRead (the
    # strict cases are tested only on those rare branches: the usual tag costs nothing more).
    strict = False

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> tuple[int, bool, int]:
        """(tag number, context class, PRIMITIVE/OPENING/CLOSING) of the next tag."""
        saved = self.pos
        number, context, kind, _ = self.tag()
        self.pos = saved
        return number, context, kind

    def tag(self) -> tuple[int, bool, int, bytes]:
        """(tag number, context class, PRIMITIVE/OPENING/CLOSING, value octets); an application
        boolean's value is the one octet of its tag's length field."""
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise NotRead("no more tags")
        octet = data[pos]
        pos += 1
        number = octet >> 4
        if number == 0x0F:
            if self.strict:
                raise NotRead("an extended tag number")
            number, pos = _octet(data, pos), pos + 1
        context = bool(octet & 0x08)
        lvt = octet & 0x07
        if context and lvt == 6:
            self.pos = pos
            return number, True, OPENING, b""
        if context and lvt == 7:
            self.pos = pos
            return number, True, CLOSING, b""
        if not context and number == APPLICATION_BOOLEAN:  # the value is in the tag itself
            if self.strict:
                raise NotRead("a boolean")
            self.pos = pos
            return number, False, PRIMITIVE, bytes([lvt])
        length = lvt
        if lvt == 5:
            if self.strict:
                raise NotRead("a long value")
            length, pos = _octet(data, pos), pos + 1
            if length == 254:
                length, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
            elif length == 255:
                length, pos = int.from_bytes(data[pos : pos + 4], "big"), pos + 4
        if pos + length > len(data):
            raise NotRead("a tag runs past the end")
        self.pos = pos + length
        return number, context, PRIMITIVE, data[pos : pos + length]

    def context(self, number: int) -> bytes:
        """The value octets of the primitive context tag `number`, which must come next."""
        tag_number, context, kind, value = self.tag()
        if (tag_number, context, kind) != (number, True, PRIMITIVE):
            raise NotRead(f"context tag {number} expected")
        return value

    def unsigned(self, number: int) -> int:
        value = self.context(number)  # (unsigned() inlined: this is most of the parameters)
        if not 1 <= len(value) <= 4:
            raise NotRead("an unsigned of 1-4 octets expected")
        return int.from_bytes(value, "big")

    def optional(self, number: int) -> bool:
        """Whether the primitive context tag `number` comes next."""
        if self.at_end():
            return False
        return self.peek() == (number, True, PRIMITIVE)

    def expect(self, number: int, kind: int) -> None:
        """Past the OPENING or CLOSING tag `number`, which must come next."""
        if self.tag()[:3] != (number, True, kind):
            raise NotRead(f"tag {number} expected")

    def skip_constructed(self) -> None:
        """Past the closing tag of the opening tag just read (nested ones counted)."""
        depth = 1
        while depth:
            _, _, kind, _ = self.tag()
            depth += 1 if kind == OPENING else -1 if kind == CLOSING else 0


class StrictTagReader(TagReader):
    """A TagReader that refuses the tags a COV notification's values are never in."""

    strict = True


def _octet(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise NotRead("a tag runs past the end")
    return data[pos]


# ---- values both services carry ----------------------------------------------------------------


def unsigned(value: bytes) -> int:
    if not 1 <= len(value) <= 4:
        raise NotRead("an unsigned of 1-4 octets expected")
    return int.from_bytes(value, "big")


def object_identifier(value: bytes) -> tuple[str, int]:
    """(object type as bacpypes3 names it, instance)."""
    if len(value) != 4:
        raise NotRead("an object identifier of 4 octets expected")
    number = int.from_bytes(value, "big")
    return enum_name(ObjectType, number >> 22), number & 0x3FFFFF


_NAMES: dict[tuple[type, int], str] = {}
CACHED = 4096  # values remembered per cache (a peer cannot grow one without end)


def enum_name(enumeration: type, number: int) -> str:
    """bacpypes3's name of an enumeration value (str(EventState(3)) == "high-limit")."""
    known = _NAMES.get((enumeration, number))
    return known if known is not None else remembered(_NAMES, enumeration, number, str)


def remembered(
    cache: dict[tuple[type, int], Any], datatype: type, number: int, convert: Callable[[Any], Any]
) -> Any:
    """convert(datatype(number)), kept in `cache` while it has room; NotRead for a number the
    datatype refuses. (The callers look in the cache first, inline: the hot path.)"""
    try:
        value = convert(datatype(number))
    except (ValueError, TypeError) as exc:
        raise NotRead(f"{datatype.__name__} {number}") from exc
    if len(cache) < CACHED:
        cache[(datatype, number)] = value
    return value


# ---- the bacpypes3 side -------------------------------------------------------------------------

# bacpypes3's own decode (the function under its classmethod), taken before anything wraps it.
_bacpypes3_decode: Any = APCISequence.__dict__["decode"].__func__


def bacpypes3_decode(apdu: Any) -> Any:
    """An APDU as bacpypes3 alone reads it (what anything not read here gets; tests)."""
    return _bacpypes3_decode(APCISequence, apdu)


class _ReadHere:
    """Mixin of the fast classes: bacpypes3's parameters decoded by bacpypes3 when first read."""

    _elements: dict[str, Any]
    _octets: bytes
    _header: Any

    def _bacpypes3_reading(self) -> Any:
        full = self.__dict__.get("_full")
        if full is None:
            header = self._header
            header.pduData = bytearray(self._octets)
            full = self.__dict__["_full"] = _bacpypes3_decode(APCISequence, header)
        return full


def _element(name: str) -> Any:
    def read(self: _ReadHere) -> Any:
        return getattr(self._bacpypes3_reading(), name)

    return read


def _fast_class(base: type) -> type:
    namespace: dict[str, Any] = {"__module__": base.__module__, "__qualname__": base.__qualname__}
    for name in base._elements:  # type: ignore[attr-defined]
        namespace[name] = property(_element(name), doc=f"bacpypes3's {name}, read when first used")
    # The same __name__: Application.indication dispatches on "do_" + the class name.
    return type(base.__name__, (_ReadHere, base), namespace)


# (APDU type, service choice) -> (fast class, the service's reader, attribute for its reading)
_SERVICES: dict[tuple[int, int], tuple[Any, Callable[[bytes], Any], str]] = {}
_installed = False


def _decode(cls: type, apdu: Any) -> Any:
    service = _SERVICES.get((apdu.apduType, apdu.apduService))
    if service is None:
        return _bacpypes3_decode(cls, apdu)
    fast_class, read_fields, attribute = service
    octets = bytes(apdu.pduData)
    try:
        fields = read_fields(octets)
    except NotRead:
        return _bacpypes3_decode(cls, apdu)
    notification = fast_class.__new__(fast_class)
    notification.__dict__.update(_octets=octets, _header=apdu, pduData=bytearray())
    notification.__dict__[attribute] = fields
    notification.update(apdu)  # bacpypes3's header fields: source, invoke id, ...
    return notification


def install(read_fields: Callable[[bytes], Any], attribute: str, *requests: type) -> None:
    """Read the parameters of `requests` (bacpypes3 request classes) with `read_fields` from now
    on, in this process, keeping its reading as `attribute` (idempotent)."""
    for request in requests:
        key = (request.pduType, int(request.service_choice))  # type: ignore[attr-defined]
        if key not in _SERVICES:
            _SERVICES[key] = (_fast_class(request), read_fields, attribute)
    global _installed
    if not _installed:
        APCISequence.decode = classmethod(_decode)  # type: ignore[assignment, method-assign]
        _installed = True
