"""Manage virtual devices: list, create from a template, delete.

bms bacnet_virtual list
bms bacnet_virtual create --device-id 1001 --name "Test HVAC" --template hvac_controller
bms bacnet_virtual delete --device-id 1001
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.services import VirtualDeviceError, create_virtual_device, delete_virtual_device
from bms.virtual.templates import UnknownTemplate


class Command(BaseCommand):
    help = "List, create or delete virtual BACnet devices (served by the BMS device)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="virtual devices and their objects")
        create = actions.add_parser("create", help="create a device from a template")
        create.add_argument("--device-id", type=int, required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--template", required=True, help="a device profile's name")
        create.add_argument("--description", default="")
        delete = actions.add_parser("delete", help="delete a device and its objects")
        delete.add_argument("--device-id", type=int, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except (VirtualDeviceError, UnknownTemplate) as exc:
            raise CommandError(str(exc)) from exc

    def _list(self, options: dict[str, Any]) -> None:
        devices = VirtualBACnetDevice.objects.prefetch_related("virtual_objects")
        if not devices:
            self.stdout.write("no virtual devices")
        for device in devices:
            state = "running" if device.is_running else "stopped"
            self.stdout.write(
                f"{device.device_id} {device.device_name} [{device.template}, {state}]"
            )
            for obj in device.virtual_objects.all():
                value = json.dumps(obj.present_value)
                self.stdout.write(
                    f"  {obj.object_type},{obj.instance} {obj.bacnet_name} = {value}"
                    f"{' ' + obj.units if obj.units else ''}"
                )

    def _create(self, options: dict[str, Any]) -> None:
        device = create_virtual_device(
            options["device_id"], options["name"], options["description"], options["template"]
        )
        count = device.virtual_objects.count()
        self.stdout.write(
            f"created virtual device {device.device_id} {device.device_name!r} with {count} objects"
        )

    def _delete(self, options: dict[str, Any]) -> None:
        count = delete_virtual_device(options["device_id"])
        self.stdout.write(f"deleted virtual device {options['device_id']} and {count} objects")
