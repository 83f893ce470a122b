"""Where the account commands get a password: --password, or an environment variable, which
keeps it out of `ps` and shell history for launchers that can set one. Either way it must pass
AUTH_PASSWORD_VALIDATORS, as a password set in the admin does."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from bms.accounts import PASSWORD_ENV


def add_password_arguments(parser: CommandParser) -> None:
    parser.add_argument("--password", help=f"the password (or set {PASSWORD_ENV})")


def password_from(options: dict[str, Any]) -> str:
    """The password for options["username"]; CommandError naming every validator's objection."""
    password = options.get("password") or os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise CommandError(f"give --password or set {PASSWORD_ENV}")
    try:
        validate_password(password, User(username=options["username"]))
    except ValidationError as exc:
        raise CommandError("password refused: " + " ".join(exc.messages)) from exc
    return password
