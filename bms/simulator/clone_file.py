"""A cloned building's description as a JSON file (`--save-clone FILE`, `--from-clone FILE`).

So a site read from one database can be simulated where that database is not (a laptop, a CI
runner), and so the child processes of `--processes K` each get their share of the devices.
The file is the description's fields as JSON objects: {"devices": [{"instance": ..., "points":
[{"object_type": ..., ...}, ...]}, ...]}; the dataclasses check it again when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bms.simulator.clone import ClonedDevice, ClonedPoint, ClonedTrendLog, CloneError

FORMAT = "bms-simulator-clone/1"


def clone_to_json(devices: Sequence[ClonedDevice]) -> str:
    return json.dumps({"format": FORMAT, "devices": [asdict(device) for device in devices]})


def clone_from_json(text: str) -> tuple[ClonedDevice, ...]:
    """The devices of a description file; CloneError saying what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CloneError(f"not a clone description (JSON): {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CloneError(f"not a clone description: its format is not {FORMAT}")
    devices = document.get("devices")
    if not isinstance(devices, list):
        raise CloneError("a clone description lists its devices under 'devices'")
    return tuple(_device(fields) for fields in devices)


def save_clone(path: Path, devices: Sequence[ClonedDevice]) -> None:
    path.write_text(clone_to_json(devices), encoding="utf-8")


def load_clone(path: Path) -> tuple[ClonedDevice, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CloneError(f"cannot read the clone description: {exc}") from exc
    return clone_from_json(text)


def _device(fields: Any) -> ClonedDevice:
    try:
        points = tuple(_point(point) for point in fields.pop("points", []))
        logs = tuple(ClonedTrendLog(**log) for log in fields.pop("trend_logs", []))
        return ClonedDevice(**fields, points=points, trend_logs=logs)
    except (AttributeError, TypeError) as exc:  # not an object, or unknown/missing fields
        raise CloneError(f"a device of the clone description is malformed: {exc}") from exc


def _point(fields: dict[str, Any]) -> ClonedPoint:
    texts = tuple(fields.pop("state_texts", ()))
    values = tuple(fields.pop("values", ()))
    return ClonedPoint(**fields, state_texts=texts, values=values)
