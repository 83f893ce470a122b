"""Issue an API token for a user; the token is printed once and only its hash is kept.

bms bms_token --username alice --name "trend export script"
curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/api/devices
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bms.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API token (Authorization: Bearer <token>) acting as the given user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", default="script", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"there is no user {options['username']!r}")
        _row, token = ApiToken.issue(user, options["name"])
        self.stdout.write(token)
