"""Values as the write audit keeps them and as refusals quote them (web, API and services)."""

from __future__ import annotations

import math
from typing import Any


def loggable(value: Any) -> Any:
    """A refused value as the audit can keep and show it: JSON-safe (inf and nan become text)
    and short."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) <= 2**53:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def short_repr(value: Any) -> str:
    """A value quoted in an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
