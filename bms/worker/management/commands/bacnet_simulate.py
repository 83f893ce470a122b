"""`manage.py bacnet_simulate`: the simulated building (options of `python -m bms.simulator`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bms.simulator.cli import build_parser, main


class Command(BaseCommand):
    help = "Run a simulated building of BACnet devices on loopback until Ctrl-C."

    def run_from_argv(self, argv: list[str]) -> None:
        # The simulator owns its options; Django's own (--settings etc.) don't apply to it.
        code = main(argv[2:])
        if code:
            raise SystemExit(code)

    def add_arguments(self, parser: Any) -> None:
        for action in build_parser()._actions:
            if action.option_strings and action.dest != "help":
                parser._add_action(action)

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError("call through manage.py bacnet_simulate")
