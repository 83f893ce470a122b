"""Where the account commands get a password: --password, or an environment variable, which
keeps it out of `ps` and shell history for launchers that can set one."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError, CommandParser

PASSWORD_ENV = "BMS_PASSWORD"  # noqa: S105 - the variable name, not a password


def add_password_arguments(parser: CommandParser) -> None:
    parser.add_argument("--password", help=f"the password (or set {PASSWORD_ENV})")


def password_from(options: dict[str, Any]) -> str:
    password = options.get("password") or os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise CommandError(f"give --password or set {PASSWORD_ENV}")
    return password
