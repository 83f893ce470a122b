"""Create one virtual device per built-in profile, numbered from --first-id, unless some
already exist.

`make run` calls it on every start: the first start gets a device of each kind to look at and
to write to from a BACnet tool; later starts leave the user's own set alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bms.profiles.built_in import BUILT_IN
from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.services import create_virtual_device


class Command(BaseCommand):
    help = "Create one virtual device per built-in profile if there are no virtual devices yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--first-id", type=int, default=2001)

    def handle(self, *args: Any, **options: Any) -> None:
        if VirtualBACnetDevice.objects.exists():
            self.stdout.write("virtual devices exist already; none created")
            return
        for offset, profile in enumerate(sorted(BUILT_IN, key=lambda p: p.name)):
            device = create_virtual_device(
                options["first_id"] + offset,
                profile.name.replace("_", " ").title(),
                profile.description,
                profile.name,
            )
            self.stdout.write(f"created virtual device {device.device_id} {device.device_name}")
