"""EDE files (Engineering Data Exchange, BIG-EU layout 2.3): read here, written by ede_write.py.

Theory of operation. An EDE export is two semicolon-separated files:

- the main file: a header block (`PROJECT_NAME;...`, `VERSION_OF_REFERENCEFILE;...`,
  `TIMESTAMP_OF_LAST_CHANGE;...`, `AUTHOR_OF_LAST_CHANGE;...`, `VERSION_OF_LAYOUT;...`), comment
  lines starting with '#', the column line `# keyname;device obj.-instance;object-name;...`, then
  one row per object. Object types and units are BACnet numbers (ASHRAE 135 clause 21); we name
  them with bacpypes3's enumerations ("analog-input", "degrees-celsius") like the rest of the core.
- the state-text file: `reference number;text 1 (or inactive text);text 2 (or active text);...`,
  which rows of the main file point to by their state-text-reference.

Columns are found by name (tools order and spell them differently: YABE writes
"vendor-specific-addres", others "commandable" for "settable"), so only the five mandatory ones
must be there. Every refusal is an `EdeError` naming the line, so an import can say where to look
and store nothing. Files must be UTF-8 (a byte-order mark is fine): Latin-1 files from older tools
are refused at the first undecodable byte rather than guessed at.

After the standard columns we write four of our own (BMS_COLUMNS) for what a device profile
holds that EDE has no column for: `bms-cov-increment`, `bms-deadband` and `bms-time-delay` (of
its alarm, in seconds; the alarm's limits and notification class have standard columns), and
`bms-trend-log` (Y: a virtual device built from the profile logs the object). Tools that read
by position, like YABE, read the standard part and leave ours; a file without them reads as no
COV increment, no deadband or delay and no trend log. One cell as a value is `ede_cells.py`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field

from bms.bacnet import ede_cells
from bms.bacnet.ede_cells import CellError
from bms.bacnet.local.alarm_spec import MAX_TIME_DELAY

SEPARATOR = ";"
LAYOUT_VERSION = "2.3"
STATE_TEXTS_FILE = "state-text file"

# The main file's columns in the order we write them (BIG-EU layout 2.3).
KEYNAME = "keyname"
DEVICE = "device obj.-instance"
NAME = "object-name"
TYPE = "object-type"
INSTANCE = "object-instance"
DESCRIPTION = "description"
DEFAULT = "present-value-default"
MIN = "min-present-value"
MAX = "max-present-value"
SETTABLE = "settable"
COV = "supports COV"
HIGH = "hi-limit"
LOW = "low-limit"
STATE_TEXT_REF = "state-text-reference"
UNITS = "unit-code"
VENDOR = "vendor-specific-address"
NOTIFICATION_CLASS = "notification-class"
COLUMNS = (
    KEYNAME,
    DEVICE,
    NAME,
    TYPE,
    INSTANCE,
    DESCRIPTION,
    DEFAULT,
    MIN,
    MAX,
    SETTABLE,
    COV,
    HIGH,
    LOW,
    STATE_TEXT_REF,
    UNITS,
    VENDOR,
    NOTIFICATION_CLASS,
)
MANDATORY = COLUMNS[:5]
# Ours, written after the standard ones (see the module's docstring).
COV_INCREMENT = "bms-cov-increment"
DEADBAND = "bms-deadband"
TIME_DELAY = "bms-time-delay"
TREND_LOG = "bms-trend-log"
BMS_COLUMNS = (COV_INCREMENT, DEADBAND, TIME_DELAY, TREND_LOG)

# Other spellings seen in files from tools, lower case, to the column they mean.
_ALIASES = {
    "#keyname": KEYNAME,
    "device-obj-instance": DEVICE,
    "device-object-instance": DEVICE,
    "device obj-instance": DEVICE,
    "commandable": SETTABLE,
    "supports-cov": COV,
    "high-limit": HIGH,
    "vendor-specific-addres": VENDOR,  # YABE's spelling
}
_COLUMN_KEYS = {column.lower(): column for column in COLUMNS + BMS_COLUMNS} | _ALIASES

HEADER_KEYS = (
    "PROJECT_NAME",
    "VERSION_OF_REFERENCEFILE",
    "TIMESTAMP_OF_LAST_CHANGE",
    "AUTHOR_OF_LAST_CHANGE",
    "VERSION_OF_LAYOUT",
)


class EdeError(ValueError):
    """A file that cannot be read as EDE; `line` (from 1) says where, `source` which file."""

    def __init__(self, line: int, message: str, source: str = "") -> None:
        super().__init__(line, message, source)
        self.line = line
        self.message = message
        self.source = source

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.source else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class EdeObject:
    """One row of an EDE file, in our names (object types and units hyphenated)."""

    device_instance: int
    object_name: str
    object_type: str
    instance: int
    description: str = ""
    present_value_default: str = ""
    min_value: float | None = None
    max_value: float | None = None
    commandable: bool = False
    supports_cov: bool = False
    high_limit: float | None = None
    low_limit: float | None = None
    state_texts: tuple[str, ...] = ()
    units: str = ""
    vendor_address: str = ""
    notification_class: int | None = None
    # BMS columns; None (False): the file does not say.
    cov_increment: float | None = None
    deadband: float | None = None
    time_delay: int | None = None  # seconds
    trend_log: bool = False
    # Where the row was read (0 when not read from a file): for errors found after parsing.
    line: int = field(default=0, compare=False, repr=False)


# ---- reading


def parse_ede(main: bytes, state_texts: bytes | None = None) -> list[EdeObject]:
    """The objects of an EDE main file, their state texts looked up in the state-text file.

    Raises EdeError naming the line for an undecodable byte, a separator other than ';',
    missing mandatory columns, an unknown object type or unit, a duplicate object (same device,
    type and instance), or a cell that is not the number, flag or reference it should be.
    """
    texts = parse_state_texts(state_texts) if state_texts is not None else None
    lines = _decoded(main)
    column_line, columns = _column_line(lines)
    objects: list[EdeObject] = []
    seen: dict[tuple[int, str, int], int] = {}
    for number, text in lines[column_line:]:
        if _skipped(text):
            continue
        row = _row(number, text, columns)
        obj = _object(number, row, texts)
        _refuse_duplicate(obj, seen)
        objects.append(obj)
    return objects


def parse_state_texts(data: bytes) -> dict[int, tuple[str, ...]]:
    """The state-text file: reference number -> its texts (trailing empty cells dropped)."""
    references: dict[int, tuple[str, ...]] = {}
    for number, text in _decoded(data, STATE_TEXTS_FILE):
        if _skipped(text) or _is_header(text):
            continue
        cells = _cells(text)
        if len(cells) < 2:
            raise EdeError(number, _too_few_cells(text, 2), STATE_TEXTS_FILE)
        reference = _reference(number, cells[0])
        if reference in references:
            raise EdeError(number, f"reference {reference} is defined twice", STATE_TEXTS_FILE)
        references[reference] = _trimmed(cells[1:])
    return references


def _reference(number: int, cell: str) -> int:
    try:
        return ede_cells.integer(cell, "reference number")
    except CellError as exc:
        raise EdeError(number, str(exc), STATE_TEXTS_FILE) from exc


def _decoded(data: bytes, source: str = "") -> list[tuple[int, str]]:
    """(line number, text) for every line; a byte that is not UTF-8 is refused with its line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EdeError(
            line,
            f"byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8 "
            "(older tools write Latin-1 or Windows-1252)",
            source,
        ) from exc
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1)]


def _skipped(text: str) -> bool:
    """Blank lines, comments, and rows of separators only (spreadsheets pad with them)."""
    stripped = text.strip()
    return not stripped or stripped.startswith("#") or not stripped.replace(SEPARATOR, "").strip()


def _is_header(text: str) -> bool:
    first = text.split(SEPARATOR, 1)[0].strip().lstrip("#").strip().upper()
    return first.replace(" ", "_") in HEADER_KEYS


def _column_line(lines: Sequence[tuple[int, str]]) -> tuple[int, dict[str, int]]:
    """The index after the column line, and each known column's position in it."""
    for index, (number, text) in enumerate(lines):
        if not text.strip().lstrip("#").strip().lower().startswith(KEYNAME):
            continue
        wrong = _wrong_separator(text)
        if wrong:
            raise EdeError(number, wrong)
        return index + 1, _columns(number, _cells(text))
    raise EdeError(
        len(lines), "no column line ('# keyname;device obj.-instance;...') in the whole file"
    )


def _columns(number: int, cells: Sequence[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, cell in enumerate(cells):
        key = cell.strip().lower()
        column = _COLUMN_KEYS.get(key) or _COLUMN_KEYS.get(key.lstrip("#").strip())
        if column is not None and column not in positions:
            positions[column] = position
    missing = [column for column in MANDATORY if column not in positions]
    if missing:
        raise EdeError(number, f"missing mandatory column(s): {', '.join(missing)}")
    return positions


def _row(number: int, text: str, columns: dict[str, int]) -> dict[str, str]:
    cells = _cells(text)
    needed = max(columns[column] for column in MANDATORY) + 1
    if len(cells) < needed:
        raise EdeError(number, _too_few_cells(text, needed))
    return {
        column: cells[position].strip() if position < len(cells) else ""
        for column, position in columns.items()
    }


def _cells(text: str) -> list[str]:
    return next(csv.reader([text], delimiter=SEPARATOR))


def _too_few_cells(text: str, needed: int) -> str:
    found = len(_cells(text))
    return _wrong_separator(text) or f"{found} column(s), at least {needed} expected"


def _wrong_separator(text: str) -> str | None:
    if SEPARATOR in text:
        return None
    for other, name in ((",", "','"), ("\t", "a tab")):
        if other in text:
            return f"columns are separated by {name}; EDE files separate them with ';'"
    return None


def _object(
    number: int, row: dict[str, str], texts: dict[int, tuple[str, ...]] | None
) -> EdeObject:
    try:
        return _object_of(row, texts, number)
    except CellError as exc:
        raise EdeError(number, str(exc)) from exc


def _object_of(
    row: dict[str, str], texts: dict[int, tuple[str, ...]] | None, number: int
) -> EdeObject:
    name = row[NAME]
    if not name:
        raise CellError("object-name is empty")
    return EdeObject(
        device_instance=ede_cells.instance(row[DEVICE], DEVICE),
        object_name=name,
        object_type=ede_cells.object_type(row[TYPE], TYPE),
        instance=ede_cells.instance(row[INSTANCE], INSTANCE),
        description=row.get(DESCRIPTION, ""),
        present_value_default=row.get(DEFAULT, ""),
        min_value=ede_cells.number(row.get(MIN, ""), MIN),
        max_value=ede_cells.number(row.get(MAX, ""), MAX),
        commandable=ede_cells.flag(row.get(SETTABLE, ""), SETTABLE),
        supports_cov=ede_cells.flag(row.get(COV, ""), COV),
        high_limit=ede_cells.number(row.get(HIGH, ""), HIGH),
        low_limit=ede_cells.number(row.get(LOW, ""), LOW),
        state_texts=_state_texts(row.get(STATE_TEXT_REF, ""), texts),
        units=ede_cells.units(row.get(UNITS, ""), UNITS),
        vendor_address=row.get(VENDOR, ""),
        notification_class=ede_cells.optional_integer(
            row.get(NOTIFICATION_CLASS, ""), NOTIFICATION_CLASS
        ),
        cov_increment=ede_cells.non_negative(row.get(COV_INCREMENT, ""), COV_INCREMENT),
        deadband=ede_cells.non_negative(row.get(DEADBAND, ""), DEADBAND),
        time_delay=ede_cells.unsigned(row.get(TIME_DELAY, ""), TIME_DELAY, MAX_TIME_DELAY),
        trend_log=ede_cells.flag(row.get(TREND_LOG, ""), TREND_LOG),
        line=number,
    )


def _refuse_duplicate(obj: EdeObject, seen: dict[tuple[int, str, int], int]) -> None:
    key = (obj.device_instance, obj.object_type, obj.instance)
    if key in seen:
        raise EdeError(
            obj.line,
            f"{obj.object_type} {obj.instance} of device {obj.device_instance} "
            f"is already on line {seen[key]}",
        )
    seen[key] = obj.line


def _state_texts(cell: str, texts: dict[int, tuple[str, ...]] | None) -> tuple[str, ...]:
    reference = ede_cells.optional_integer(cell, STATE_TEXT_REF)
    if reference is None:
        return ()
    if texts is None:
        raise CellError(f"state-text-reference {reference}, but no state-text file was given")
    if reference not in texts:
        raise CellError(f"state-text-reference {reference} is not in the state-text file")
    return texts[reference]


def _trimmed(cells: Sequence[str]) -> tuple[str, ...]:
    texts = [cell.strip() for cell in cells]
    while texts and not texts[-1]:
        texts.pop()
    return tuple(texts)
