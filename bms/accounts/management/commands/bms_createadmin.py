"""Create (or update) an admin account; idempotent, so `make run` can call it on every start.

bms bms_createadmin --username admin --password secret
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bms.accounts.management.commands._password import add_password_arguments, password_from
from bms.accounts.roles import ADMIN
from bms.accounts.services import set_user


class Command(BaseCommand):
    help = "Create or update an admin user (role admin, staff, superuser). Safe to rerun."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        add_password_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user, created = set_user(options["username"], password_from(options), ADMIN)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"admin {user.username} {verb}")
