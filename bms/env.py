"""Typed readers for settings that come from the environment.

Each helper returns a value of one type or raises ImproperlyConfigured naming the variable and
what was wrong, so a typo in a deployment fails at start-up instead of surfacing as odd behaviour
later. `environ` is a parameter so tests pass a plain dict instead of patching os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    """The stripped value, or None when unset or blank (compose files often pass VAR= for unset)."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_str(
    name: str,
    default: str | None = None,
    *,
    hint: str = "",
    environ: Mapping[str, str] | None = None,
) -> str:
    """A string; with no default the variable is required (`hint` says how to fix it)."""
    value = _raw(name, environ)
    if value is not None:
        return value
    if default is None:
        raise ImproperlyConfigured(f"environment variable {name} is required{hint}")
    return default


def env_int(name: str, default: int, *, environ: Mapping[str, str] | None = None) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_float(name: str, default: float, *, environ: Mapping[str, str] | None = None) -> float:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """1/true/yes/on or 0/false/no/off; anything else is an error, not False."""
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_choice(
    name: str,
    choices: Sequence[str],
    default: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """One of `choices`, compared case-insensitively and returned lower-case."""
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered not in choices:
        allowed = ", ".join(choices)
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {allowed}")
    return lowered


def env_list(
    name: str, default: Sequence[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]
