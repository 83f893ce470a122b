"""Queue a BACnet task from the command line, and optionally wait for it.

    bms bacnet_task discover --low 1000 --high 1999 [--address A] [--force] [--wait]
    bms bacnet_task collect [--device 1001 --device 1002]
    bms bacnet_task read_points --device 1001
    bms bacnet_task write_point --point 7 --value 21.5 --priority 8 | --relinquish
    bms bacnet_task status

Each takes `--site NAME` (default: BACNET_SITE), checked like the web app checks it: a site of a
worker, a device or BACNET_SITE. Work on known devices goes to their site, as from the web app.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bms.tasks import queue, sites
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.backends.base import BACnetBackend
from bms.tasks.models import BACnetTask


def parse_value(text: str) -> Any:
    """JSON when it parses (21.5, 1, true, null), otherwise the text ("active")."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Command(BaseCommand):
    help = "Queue a BACnet task (discover, collect, read_points, write_point) or show status."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        discover = actions.add_parser("discover", help="Who-Is, optionally over a range")
        discover.add_argument("--low", type=int)
        discover.add_argument("--high", type=int)
        discover.add_argument("--address", help="send the Who-Is to this address only")
        discover.add_argument("--force", action="store_true", help="ignore the discovery cache")
        collect = actions.add_parser("collect", help="read present values of known points")
        collect.add_argument(
            "--device",
            type=int,
            action="append",
            dest="devices",
            help="device instance (repeatable; default all)",
        )
        read_points = actions.add_parser("read_points", help="read a device's points")
        read_points.add_argument("--device", type=int, required=True)
        write = actions.add_parser("write_point", help="command a point")
        write.add_argument("--point", type=int, required=True, help="point id in the database")
        what = write.add_mutually_exclusive_group(required=True)
        what.add_argument("--value", type=parse_value)
        what.add_argument("--relinquish", action="store_true")
        write.add_argument("--priority", type=int)
        for sub in (discover, collect, read_points, write):
            sub.add_argument("--wait", action="store_true", help="wait and print progress")
            sub.add_argument("--timeout", type=float, default=120.0, help="seconds (with --wait)")
        status = actions.add_parser("status", help="backend, recent tasks, live workers")
        for sub in (discover, collect, read_points, write, status):
            sub.add_argument(
                "--site", help="default: BACNET_SITE; work on a known device goes to its site"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backend = get_bacnet_backend(site=self._site(options))
            if options["action"] == "status":
                self.stdout.write(json.dumps(backend.get_status(), indent=2))
                return
            task_id = self._submit(backend, options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # Single-site installs keep the output they always had.
        where = f" for site {backend.site}" if backend.site != settings.BACNET_SITE else ""
        self.stdout.write(
            f"queued {options['action']} task {task_id}{where} ({backend.name} backend)"
        )
        if options["wait"]:
            self._wait(task_id, options["timeout"])

    def _site(self, options: dict[str, Any]) -> str:
        """The site the web app and the API would choose for this request."""
        action, site = options["action"], options["site"]
        if action == "collect":
            return sites.site_of_devices(options["devices"], site)
        if action == "read_points":
            return sites.site_of_devices([options["device"]], site)
        if action == "write_point":
            return sites.site_of_point(options["point"], site)
        return sites.check_site(site)

    def _submit(self, backend: BACnetBackend, options: dict[str, Any]) -> int:
        action = options["action"]
        if action == "discover":
            return backend.discover_devices(
                low=options["low"],
                high=options["high"],
                address=options["address"],
                force=options["force"],
            )
        if action == "collect":
            return backend.collect_readings(device_ids=options["devices"])
        if action == "read_points":
            return backend.read_points(options["device"])
        return backend.write_point(
            options["point"], options["value"], options["priority"], options["relinquish"]
        )

    def _wait(self, task_id: int, timeout: float) -> None:
        try:
            task = queue.wait_for(task_id, timeout, on_change=self._print_progress)
        except TimeoutError as exc:
            raise CommandError(str(exc)) from exc
        if task.status == "failed":
            raise CommandError(f"task {task_id} failed: {task.error_message}")
        self.stdout.write(f"task {task_id} completed: {json.dumps(task.result)}")

    def _print_progress(self, task: BACnetTask) -> None:
        progress = task.progress or {}
        counts = f" {progress['done']}/{progress['total']}" if "total" in progress else ""
        message = f" {progress['message']}" if progress.get("message") else ""
        self.stdout.write(f"task {task.id} {task.status}{counts}{message}")
