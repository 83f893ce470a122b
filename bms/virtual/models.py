"""Virtual devices and their objects. All objects are served by the one BMS device (8888); a
virtual device is a named group of them, and its id prefixes the objects' BACnet names."""

from __future__ import annotations

from django.db import models

from bms.bacnet.types import COMMANDABLE_TYPES


class VirtualBACnetDevice(models.Model):
    device_id = models.PositiveIntegerField(unique=True)
    device_name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    template = models.CharField(max_length=60, blank=True)
    is_running = models.BooleanField(default=True)
    last_external_write = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device_id"]

    def __str__(self) -> str:
        return f"{self.device_id} {self.device_name}"


class VirtualObject(models.Model):
    device = models.ForeignKey(
        VirtualBACnetDevice, on_delete=models.CASCADE, related_name="virtual_objects"
    )
    object_type = models.CharField(max_length=40)  # "analog-output"
    instance = models.PositiveIntegerField()
    name = models.CharField(max_length=255)  # plain; see bacnet_name
    description = models.TextField(blank=True)
    units = models.CharField(max_length=80, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    state_texts = models.JSONField(default=list, blank=True)
    present_value = models.JSONField(null=True, blank=True)
    # 16 entries (None = relinquished) for commandable objects; None for inputs.
    priority_array = models.JSONField(null=True, blank=True)
    relinquish_default = models.JSONField(null=True, blank=True)
    out_of_service = models.BooleanField(default=False)
    cov_increment = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device", "object_type", "instance"]
        constraints = [
            # One BACnet device (the BMS) holds every virtual object.
            models.UniqueConstraint(
                fields=["object_type", "instance"], name="virtualobject_unique_identifier"
            ),
            # Object names must be unique within a BACnet device too.
            models.UniqueConstraint(fields=["device", "name"], name="virtualobject_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.bacnet_name} ({self.object_type},{self.instance})"

    @property
    def bacnet_name(self) -> str:
        return f"Virtual_{self.device.device_id}_{self.name}"

    @property
    def commandable(self) -> bool:
        return self.object_type in COMMANDABLE_TYPES
