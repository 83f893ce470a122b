"""Device profiles: named lists of objects a virtual device is built from (the four built-in ones
and any a user adds), and the points a real device is expected to have (from an EDE file)."""

from __future__ import annotations

from django.db import models

from bms.devices.models import BACnetDevice


class DeviceProfile(models.Model):
    # The built-in names are the old template keys, so `template="hvac_controller"` still works.
    name = models.CharField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    built_in = models.BooleanField(default=False)  # seeded; cannot be changed or deleted
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"profile {self.name}"


class ProfileObject(models.Model):
    """One object of a profile, as bms.profiles.definitions.ObjectDefinition describes it."""

    profile = models.ForeignKey(
        DeviceProfile, on_delete=models.CASCADE, related_name="profile_objects"
    )
    object_type = models.CharField(max_length=40)  # "analog-output"
    # The instance on the device the profile describes (EDE, a real device); a virtual device
    # built from it gets the next free instances of device 8888 instead.
    instance = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    units = models.CharField(max_length=80, blank=True)
    default = models.JSONField(null=True, blank=True)  # present value, relinquish default
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    state_texts = models.JSONField(default=list, blank=True)  # binary: [inactive, active]
    commandable = models.BooleanField(default=False)
    cov_increment = models.FloatField(null=True, blank=True)
    # Intrinsic reporting as VirtualObject has it: none without a notification class.
    notification_class = models.PositiveIntegerField(null=True, blank=True)
    high_limit = models.FloatField(null=True, blank=True)
    low_limit = models.FloatField(null=True, blank=True)
    deadband = models.FloatField(default=0.0)
    time_delay = models.PositiveIntegerField(default=0)
    trend_log = models.BooleanField(default=False)  # a virtual device logs it (VirtualTrendLog)

    class Meta:
        ordering = ["profile", "object_type", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "object_type", "instance"], name="profileobject_unique_id"
            ),
            models.UniqueConstraint(fields=["profile", "name"], name="profileobject_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type},{self.instance} {self.name}"


class ExpectedPoint(models.Model):
    """A point a real device should have, imported from an EDE file: discovery and point reads
    fill BACnetPoint, and bms.profiles.expected compares the two."""

    device = models.ForeignKey(
        BACnetDevice, on_delete=models.CASCADE, related_name="expected_points"
    )
    object_type = models.CharField(max_length=40)
    instance = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    units = models.CharField(max_length=80, blank=True)
    state_texts = models.JSONField(default=list, blank=True)
    commandable = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["device", "object_type", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "object_type", "instance"], name="expectedpoint_unique_object"
            ),
        ]

    def __str__(self) -> str:
        return f"expected {self.object_type},{self.instance} {self.name}"
