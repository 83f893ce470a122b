"""EDE files written (BIG-EU layout 2.3): the main file and the state-text file. Pure, no I/O.

The layout, the columns and the rules of reading are in `bms.bacnet.ede`; what is written here
reads back identical through `ede.parse_ede` (tests/bacnet/test_ede.py). The BMS columns come
after the standard ones, so a tool that reads columns by position still finds those.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from bms.bacnet.ede import (
    BMS_COLUMNS,
    COLUMNS,
    HEADER_KEYS,
    KEYNAME,
    LAYOUT_VERSION,
    SEPARATOR,
    EdeObject,
)
from bms.bacnet.ede_cells import (
    flag_text,
    integer_text,
    number_text,
    object_type_code,
    unit_code,
)

WRITTEN = COLUMNS + BMS_COLUMNS


def write_ede(
    objects: Iterable[EdeObject],
    project_name: str = "BMS",
    *,
    timestamp: date | None = None,
    author: str = "BMS",
) -> tuple[str, str]:
    """The main file and the state-text file for `objects`, in their order.

    Identical state texts share one reference, numbered from 1 in order of first use. Raises
    ValueError for an object type or unit that has no BACnet number (nothing to write).
    """
    header = _header(project_name, timestamp or date.today(), author)
    references: dict[tuple[str, ...], int] = {}
    rows = [_row_cells(obj, references) for obj in objects]
    main = _text(
        [
            ["# Engineering-Data-Exchange - B.I.G.-EU"],
            *header,
            ["#mandatory", *["mandatory"] * 4, *["optional"] * (len(WRITTEN) - 5)],
            [f"# {KEYNAME}", *WRITTEN[1:]],
            *rows,
        ]
    )
    texts = _text(
        [
            ["#State-Text-Reference-File - B.I.G.-EU"],
            *header,
            _state_text_columns(references),
            *([str(reference), *texts] for texts, reference in references.items()),
        ]
    )
    return main, texts


def _header(project_name: str, timestamp: date, author: str) -> list[list[str]]:
    values = (project_name, "1", timestamp.isoformat(), author, LAYOUT_VERSION)
    return [[key, value] for key, value in zip(HEADER_KEYS, values, strict=True)]


def _state_text_columns(references: dict[tuple[str, ...], int]) -> list[str]:
    most = max((len(texts) for texts in references), default=2)
    names = [f"Text {n}" for n in range(1, max(most, 2) + 1)]
    names[0] += " or Inactive-Text"
    names[1] += " or Active-Text"
    return ["#Reference Number", *names]


def _row_cells(obj: EdeObject, references: dict[tuple[str, ...], int]) -> list[str]:
    reference = ""
    if obj.state_texts:
        reference = str(references.setdefault(obj.state_texts, len(references) + 1))
    return [
        f"{obj.device_instance}.{obj.object_type}.{obj.instance}",
        str(obj.device_instance),
        obj.object_name,
        str(object_type_code(obj.object_type)),
        str(obj.instance),
        obj.description,
        obj.present_value_default,
        number_text(obj.min_value),
        number_text(obj.max_value),
        flag_text(obj.commandable),
        flag_text(obj.supports_cov),
        number_text(obj.high_limit),
        number_text(obj.low_limit),
        reference,
        str(unit_code(obj.units)) if obj.units else "",
        obj.vendor_address,
        integer_text(obj.notification_class),
        *_bms_cells(obj),
    ]


def _bms_cells(obj: EdeObject) -> list[str]:
    """The cells of BMS_COLUMNS, in their order."""
    return [
        number_text(obj.cov_increment),
        number_text(obj.deadband),
        integer_text(obj.time_delay),
        flag_text(obj.trend_log),
    ]


def _text(rows: Iterable[Sequence[str]]) -> str:
    """Rows as EDE lines: ';' between cells, CRLF after each; line breaks inside a cell would
    split a row, so they become spaces."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\r\n")
    writer.writerows(_single_line(row) for row in rows)
    return out.getvalue()


def _single_line(row: Sequence[str]) -> Iterator[str]:
    return (" ".join(cell.splitlines()) for cell in row)
