"""Create (or update) a user with one role: viewer, operator or admin. Idempotent.

bms bms_createuser --username alice --password secret --role operator
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bms.accounts.management.commands._password import add_password_arguments, password_from
from bms.accounts.roles import ROLES
from bms.accounts.services import set_user


class Command(BaseCommand):
    help = "Create or update a user with a role (viewer reads, operator writes, admin manages)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=ROLES)
        add_password_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user, created = set_user(options["username"], password_from(options), options["role"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"{options['role']} {user.username} {verb}")
