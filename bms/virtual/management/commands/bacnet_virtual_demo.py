"""Create one virtual device per template, numbered from --first-id, unless some already exist.

`make run` calls it on every start: the first start gets a device of each kind to look at and
to write to from a BACnet tool; later starts leave the user's own set alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.services import create_virtual_device
from bms.virtual.templates import TEMPLATES


class Command(BaseCommand):
    help = "Create one virtual device per template if there are no virtual devices yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--first-id", type=int, default=2001)

    def handle(self, *args: Any, **options: Any) -> None:
        if VirtualBACnetDevice.objects.exists():
            self.stdout.write("virtual devices exist already; none created")
            return
        for offset, key in enumerate(sorted(TEMPLATES)):
            template = TEMPLATES[key]
            device = create_virtual_device(
                options["first_id"] + offset,
                key.replace("_", " ").title(),
                template.description,
                key,
            )
            self.stdout.write(f"created virtual device {device.device_id} {device.device_name}")
