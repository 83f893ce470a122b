"""ede.py: EDE files read and written, and every refusal naming its line."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date

import pytest

from bms.bacnet.ede import (
    BMS_COLUMNS,
    COLUMNS,
    EdeError,
    EdeObject,
    parse_ede,
    parse_state_texts,
)
from bms.bacnet.ede_write import write_ede

OBJECTS = [
    EdeObject(1001, "AHU1", "device", 1001, description="Air handling unit"),
    EdeObject(
        1001,
        "Supply_Air_Temperature",
        "analog-input",
        1,
        description="Supply air; after the coil",
        present_value_default="14",
        min_value=-20.0,
        max_value=60.0,
        supports_cov=True,
        high_limit=30.5,
        low_limit=0.1,
        units="degrees-celsius",
        notification_class=1,
        cov_increment=0.25,
        deadband=0.5,
        time_delay=60,
        trend_log=True,
    ),
    EdeObject(
        1001,
        "Damper",
        "analog-output",
        2,
        present_value_default="0",
        min_value=0.0,
        max_value=100.0,
        commandable=True,
        units="percent",
        vendor_address="DB10.W4",
    ),
    EdeObject(
        1001,
        "Fan",
        "binary-output",
        1,
        present_value_default="inactive",
        commandable=True,
        state_texts=("Off", "On"),
    ),
    EdeObject(1001, "Pump", "binary-value", 3, state_texts=("Off", "On"), units="no-units"),
    EdeObject(
        1002,
        "Mode",
        "multi-state-value",
        7,
        present_value_default="1",
        commandable=True,
        state_texts=("Off", "Heating", "Cooling"),
    ),
]
DAY = date(2026, 12, 7)


def written(objects: list[EdeObject] = OBJECTS) -> tuple[str, str]:
    return write_ede(objects, "Test site", timestamp=DAY)


def test_it_reads_back_what_it_wrote() -> None:
    main, texts = written()
    assert parse_ede(main.encode(), texts.encode()) == OBJECTS


def test_write_parse_write_is_identical() -> None:
    main, texts = written()
    again = written(parse_ede(main.encode(), texts.encode()))
    assert again == (main, texts)


def test_it_writes_the_big_eu_layout_with_numbers() -> None:
    main, texts = written()
    lines = main.split("\r\n")
    assert lines[1:6] == [
        "PROJECT_NAME;Test site",
        "VERSION_OF_REFERENCEFILE;1",
        "TIMESTAMP_OF_LAST_CHANGE;2026-12-07",
        "AUTHOR_OF_LAST_CHANGE;BMS",
        "VERSION_OF_LAYOUT;2.3",
    ]
    assert lines[7].startswith("# keyname;device obj.-instance;object-name;object-type;")
    cells = next(csv.reader([lines[9]], delimiter=";"))
    assert cells[3:5] == ["0", "1"]  # analog-input 1
    assert cells[14] == "62"  # degrees-celsius
    assert '"Supply air; after the coil"' in lines[9]  # quoted: it holds the separator
    assert texts.split("\r\n")[-3:] == ["1;Off;On", "2;Off;Heating;Cooling", ""]


def test_the_bms_columns_come_after_the_standard_ones() -> None:
    main, _ = written()
    lines = main.split("\r\n")
    header = next(csv.reader([lines[7]], delimiter=";"))
    assert header == [f"# {COLUMNS[0]}", *COLUMNS[1:], *BMS_COLUMNS]
    assert header[-4:] == ["bms-cov-increment", "bms-deadband", "bms-time-delay", "bms-trend-log"]
    cells = next(csv.reader([lines[9]], delimiter=";"))
    assert cells[len(COLUMNS) :] == ["0.25", "0.5", "60", "Y"]


def test_a_tool_reading_by_position_finds_the_standard_cells_where_they_were() -> None:
    plain = dataclasses.replace(
        OBJECTS[1], cov_increment=None, deadband=None, time_delay=None, trend_log=False
    )
    with_ours, without = (written([obj])[0].split("\r\n")[9] for obj in (OBJECTS[1], plain))
    standard = len(COLUMNS)
    assert (
        next(csv.reader([with_ours], delimiter=";"))[:standard]
        == next(csv.reader([without], delimiter=";"))[:standard]
    )


# A file as YABE and other tools write it: a BOM, CRLF, other column names and order, a
# decimal comma, padding separators, and the device row.
TOOL_FILE = (
    "\ufeff# Engineering-Data-Exchange - B.I.G.-EU\r\n"
    "PROJECT_NAME;Plant\r\n"
    "VERSION_OF_LAYOUT;2.2\r\n"
    "# keyname;device obj.-instance;object-name;object-type;object-instance;description;"
    "commandable;unit-code;state-text-reference;vendor-specific-addres\r\n"
    "k1;5;Boiler;8;5;;N;;;\r\n"
    "k2;5;Flow temp;0;1;Flow;N;62;;A1\r\n"
    ";;;;;;;;;\r\n"
    "k3;5;Setpoint;2;1;;Y;62;;\r\n"
    "k4;5;Burner;4;1;;1;;0;\r\n"
)
TOOL_TEXTS = "#State Text Reference\r\n#Reference Number;Text 1;Text 2\r\n0;Off;On;;\r\n"


def test_it_reads_a_tool_file_by_column_names() -> None:
    objects = parse_ede(TOOL_FILE.encode(), TOOL_TEXTS.encode())
    assert [(o.object_type, o.instance, o.object_name) for o in objects] == [
        ("device", 5, "Boiler"),
        ("analog-input", 1, "Flow temp"),
        ("analog-value", 1, "Setpoint"),
        ("binary-output", 1, "Burner"),
    ]
    assert objects[1].units == "degrees-celsius"
    assert objects[1].vendor_address == "A1"
    assert objects[2].commandable
    assert objects[3].state_texts == ("Off", "On")
    assert [o.line for o in objects] == [5, 6, 8, 9]
    # No BMS columns: nothing of ours is made up.
    assert {(o.cov_increment, o.deadband, o.time_delay, o.trend_log) for o in objects} == {
        (None, None, None, False)
    }


def test_it_reads_a_decimal_comma() -> None:
    text = f"{HEAD};min-present-value;max-present-value\nk;1;A;0;1;21,5;1.5"
    [obj] = parse_ede(text.encode())
    assert (obj.min_value, obj.max_value) == (21.5, 1.5)


HEAD = "PROJECT_NAME;P\n# keyname;device obj.-instance;object-name;object-type;object-instance"


@pytest.mark.parametrize(
    ("main", "texts", "line", "words"),
    [
        pytest.param(b"PROJECT_NAME;P\n\xe9t\xe9;1", None, 2, "0xe9 is not UTF-8", id="latin-1"),
        pytest.param(
            b"PROJECT_NAME,P\n# keyname,device obj.-instance,object-name,object-type",
            None,
            2,
            "separated by ','",
            id="comma-separated",
        ),
        pytest.param(
            b"# keyname\tdevice obj.-instance\tobject-name",
            None,
            1,
            "separated by a tab",
            id="tab-separated",
        ),
        pytest.param(
            f"{HEAD}\nk;1;A;0;1\nk,1,B,0,2".encode(),
            None,
            4,
            "separated by ','",
            id="comma-separated-row",
        ),
        pytest.param(
            b"# keyname;device obj.-instance;object-name;object-type\nk;1;A;0",
            None,
            1,
            "missing mandatory column(s): object-instance",
            id="missing-column",
        ),
        pytest.param(b"PROJECT_NAME;P\nk;1;A;0;1", None, 2, "no column line", id="no-columns"),
        pytest.param(
            f"{HEAD}\nk;1;A;0;1\nk;1;B;999;1".encode(),
            None,
            4,
            "object-type 999 is not a standard",
            id="unknown-type",
        ),
        pytest.param(
            f"{HEAD}\nk;1;A;zero;1".encode(), None, 3, "object-type 'zero'", id="type-not-number"
        ),
        pytest.param(
            f"{HEAD}\nk;1;A;0;1\n\nk;1;B;0;1".encode(),
            None,
            5,
            "analog-input 1 of device 1 is already on line 3",
            id="duplicate",
        ),
        pytest.param(
            f"{HEAD}\nk;1;A;0;4194303".encode(), None, 3, "outside 0..4194302", id="instance-range"
        ),
        pytest.param(f"{HEAD}\nk;1;;0;1".encode(), None, 3, "object-name is empty", id="no-name"),
        pytest.param(f"{HEAD}\nk;1;A;0".encode(), None, 3, "4 column(s)", id="short-row"),
        pytest.param(
            f"{HEAD};min-present-value\nk;1;A;0;1;low".encode(),
            None,
            3,
            "min-present-value 'low' is not a number",
            id="bad-number",
        ),
        pytest.param(
            f"{HEAD};settable\nk;1;A;0;1;maybe".encode(),
            None,
            3,
            "settable 'maybe' is not Y or N",
            id="bad-flag",
        ),
        pytest.param(
            f"{HEAD};bms-cov-increment\nk;1;A;0;1;0.1\nk;1;B;0;2;fast".encode(),
            None,
            4,
            "bms-cov-increment 'fast' is not a number",
            id="bad-cov-increment",
        ),
        pytest.param(
            f"{HEAD};bms-deadband\nk;1;A;0;1;-0,5".encode(),
            None,
            3,
            "bms-deadband '-0,5' is below 0",
            id="negative-deadband",
        ),
        pytest.param(
            f"{HEAD};bms-time-delay\nk;1;A;0;1;1.5".encode(),
            None,
            3,
            "bms-time-delay '1.5' is not a whole number",
            id="fractional-time-delay",
        ),
        pytest.param(
            f"{HEAD};bms-time-delay\nk;1;A;0;1;4294967296".encode(),
            None,
            3,
            "bms-time-delay 4294967296 is outside 0..4294967295",
            id="time-delay-range",
        ),
        pytest.param(
            f"{HEAD};bms-trend-log\nk;1;A;0;1;sometimes".encode(),
            None,
            3,
            "bms-trend-log 'sometimes' is not Y or N",
            id="bad-trend-log",
        ),
        pytest.param(
            f"{HEAD};unit-code\nk;1;A;0;1;99999".encode(),
            None,
            3,
            "unit-code 99999 is not a standard",
            id="unknown-unit",
        ),
        pytest.param(
            f"{HEAD};state-text-reference\nk;1;A;19;1;4".encode(),
            b"1;Off;On",
            3,
            "state-text-reference 4 is not in the state-text file",
            id="missing-reference",
        ),
        pytest.param(
            f"{HEAD};state-text-reference\nk;1;A;19;1;4".encode(),
            None,
            3,
            "no state-text file was given",
            id="no-state-text-file",
        ),
    ],
)
def test_a_malformed_main_file_is_refused_naming_its_line(
    main: bytes, texts: bytes | None, line: int, words: str
) -> None:
    with pytest.raises(EdeError) as caught:
        parse_ede(main, texts)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(
    ("texts", "line", "words"),
    [
        pytest.param(b"#x\n1;Off;On\n1;A;B", 3, "reference 1 is defined twice", id="twice"),
        pytest.param(b"one;Off;On", 1, "reference number 'one'", id="not-a-number"),
        pytest.param(b"#x\n1,Off,On", 2, "separated by ','", id="comma-separated"),
        pytest.param(b"1;Off;\xfcber", 1, "0xfc is not UTF-8", id="latin-1"),
    ],
)
def test_a_malformed_state_text_file_is_refused_naming_its_line(
    texts: bytes, line: int, words: str
) -> None:
    with pytest.raises(EdeError) as caught:
        parse_state_texts(texts)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"state-text file line {line}: ")
    assert words in str(caught.value)


def test_an_object_with_no_bacnet_number_is_not_written() -> None:
    with pytest.raises(ValueError, match="unit 'furlongs' has no BACnet number"):
        write_ede([EdeObject(1, "A", "analog-input", 1, units="furlongs")])
    with pytest.raises(ValueError, match="object type 'analogInput'"):
        write_ede([EdeObject(1, "A", "analogInput", 1)])
