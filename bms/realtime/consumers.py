"""Websocket consumers: signed-in users only; each forwards its groups' events as JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from bms.realtime import groups

# Close codes in the 4000 range are ours (RFC 6455 leaves them to applications).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_GROUP = 4400


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """/ws/live/?groups=tasks,devices,device-3: the groups a page asks for, if known."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        wanted = self.requested_groups()
        if not wanted or not all(groups.is_known(group) for group in wanted):
            await self.close(code=CLOSE_BAD_GROUP)
            return
        # Device values batched for the whole building come on groups.POINTS (see
        # realtime_points); the device groups themselves carry the rest (publish_point_values).
        self.device_pks = {pk for group in wanted if (pk := groups.device_pk(group)) is not None}
        self.joined = [*wanted, groups.POINTS] if self.device_pks else wanted
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    def requested_groups(self) -> list[str]:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        names = ",".join(query.get("groups", []))
        return sorted({name.strip() for name in names.split(",") if name.strip()})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Pages only listen; anything they send is ignored by design (nothing to act on)."""

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def realtime_events(self, message: dict[str, Any]) -> None:
        for event in message["events"]:
            await self.send_json(event)

    async def realtime_points(self, message: dict[str, Any]) -> None:
        """Values of many devices in one message: the page gets the "points" event of each
        device it asked for, as a device group would have carried it."""
        for event in message["events"]:
            if event["device_pk"] in self.device_pks:
                await self.send_json(event)

    async def external_write_notification(self, message: dict[str, Any]) -> None:
        """Seed 004's external write message: {"type": "external_write", ...}."""
        event = {key: value for key, value in message.items() if key != "type"}
        await self.send_json({"type": "external_write", **event})

    async def external_writes_notification(self, message: dict[str, Any]) -> None:
        """Writes the worker published together: the page gets one message per write, in order."""
        for write in message["writes"]:
            await self.send_json({"type": "external_write", **write})


class VirtualDeviceConsumer(LiveConsumer):
    """Seed 004's consumer: the `virtual_devices` group at /ws/virtual-devices/."""

    def requested_groups(self) -> list[str]:
        return [groups.VIRTUAL_DEVICES]
