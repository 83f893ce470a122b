"""A ./var as `make run` leaves it, and the README's `bms <command>` run against it, for the
tests of bms.run and of the web server it starts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bms import run

ROOT = Path(__file__).resolve().parents[1]
# What the developer's shell (or pytest-django) may have set that would hide the behaviour: the
# product must work with none of them.
NOT_INHERITED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG")


def shell_env(var: Path) -> dict[str, str]:
    """A new user's shell in the project directory: no settings module, no SECRET_KEY."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_INHERITED and not k.startswith(("DJANGO_", "BMS_", "BACNET_"))
    }
    return {**env, "BMS_VAR_DIR": str(var), "BACNET_BACKEND": "native"}


def bms(var: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`bms <args>` as the README shows it, from the project directory."""
    return subprocess.run(  # our interpreter, our code
        [sys.executable, "-m", "bms.manage", *args],
        cwd=ROOT,
        env={**shell_env(var), **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_var(var: Path) -> dict[str, str]:
    """Migrate a database in `var` with the kept key, as `make run` does; returns its env."""
    env = run.product_env(var, base=shell_env(var))
    asyncio.run(run.manage(env, "migrate", "--no-input"))
    return env
