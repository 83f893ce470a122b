"""The history's upkeep once, from the command line: partitions made ahead, roll-up and
retention steps while there is more to do, for up to --seconds; the result as JSON on stdout.

    bms history_upkeep [--seconds 20] [--nice 10] [--database-name NAME]

The worker runs it as a child process for its scheduled "history" task
(bms.worker.history_child); an operator can run it by hand or from cron the same way.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from bms.history import maintenance


class Command(BaseCommand):
    help = "Roll up and drop expired history for up to --seconds; prints the result as JSON."
    requires_system_checks = []  # noqa: RUF012  (started once a minute: no checks' cost)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=20.0, help="time for steps (20)")
        parser.add_argument(
            "--nice", type=int, default=0, help="lower this process's CPU priority by N (POSIX)"
        )
        parser.add_argument(
            "--database-name",
            default="",
            help="the database to work on when it is not the settings' own (the worker passes "
            "its connection's, which is a test database under the test suite)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seconds"] <= 0:
            raise CommandError("--seconds must be above 0")
        if options["nice"] and hasattr(os, "nice"):  # Windows has no nice: full priority there
            os.nice(options["nice"])
        if options["database_name"]:
            connections["default"].settings_dict["NAME"] = options["database_name"]
        result = maintenance.run_for(options["seconds"])
        self.stdout.write(json.dumps(result))
