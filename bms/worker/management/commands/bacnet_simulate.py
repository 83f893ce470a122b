"""`manage.py bacnet_simulate`: the simulated building (options of `python -m bms.simulator`).

With `--from-site SITE` it simulates a site as stored in this database instead of generated
AHUs (bms.worker.site_clone): the same device instances, objects, names, units, state texts and
quirks, and each point's stored readings of the last `--history-hours` replayed in a loop.
`--from-ede FILE` and `--from-clone FILE` are the simulator's own options and need no
database; with `--save-clone FILE` the site's description is written for `--from-clone` instead
of being run (to simulate the site where its database is not).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from bms.simulator.cli import build_parser, main
from bms.simulator.clone import ClonedDevice, CloneError
from bms.simulator.shutdown import EXIT_BAD_SETUP
from bms.worker.site_clone import DEFAULT_HISTORY_HOURS, DEFAULT_MAX_VALUES, clone_site


def site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-site",
        metavar="SITE",
        help="simulate the devices of SITE as stored in the database (discovered and "
        "collected): same instances, objects, names, units, state texts, segmentation, "
        "ReadPropertyMultiple and max APDU, on loopback addresses",
    )
    parser.add_argument(
        "--history-hours",
        type=float,
        default=DEFAULT_HISTORY_HOURS,
        metavar="HOURS",
        help="with --from-site: replay each point's readings of the last HOURS, one per "
        "--change-interval, in a loop; without readings, its last value "
        f"({DEFAULT_HISTORY_HOURS:g})",
    )
    parser.add_argument(
        "--max-values",
        type=int,
        default=DEFAULT_MAX_VALUES,
        metavar="N",
        help=f"with --from-site: at most the N newest readings per point ({DEFAULT_MAX_VALUES})",
    )


def command_parser() -> argparse.ArgumentParser:
    """The simulator's options and the site's, for --help."""
    parser = build_parser()
    parser.prog = "manage.py bacnet_simulate"
    site_options(parser.add_argument_group("a site from the database"))  # type: ignore[arg-type]
    return parser


class Command(BaseCommand):
    help = "Run a simulated building of BACnet devices on loopback until Ctrl-C."

    def run_from_argv(self, argv: list[str]) -> None:
        # The simulator owns its options; Django's own (--settings etc.) don't apply to it.
        given = command_parser().parse_args(argv[2:])  # --help, and every option checked
        if given.from_site and (given.from_ede or given.from_clone):
            print("error: one of --from-site, --from-ede and --from-clone", file=sys.stderr)
            raise SystemExit(EXIT_BAD_SETUP)
        only_site = argparse.ArgumentParser(add_help=False)
        site_options(only_site)  # type: ignore[arg-type]
        site, rest = only_site.parse_known_args(argv[2:])
        code = main(rest, clone=self._site_clone(site)) if site.from_site else main(rest)
        if code:
            raise SystemExit(code)

    def _site_clone(self, site: argparse.Namespace) -> tuple[ClonedDevice, ...]:
        try:
            return clone_site(
                site.from_site, history_hours=site.history_hours, max_values=site.max_values
            )
        except CloneError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_SETUP) from exc

    def add_arguments(self, parser: Any) -> None:
        for action in command_parser()._actions:
            if action.option_strings and action.dest != "help":
                parser._add_action(action)

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError("call through manage.py bacnet_simulate")
