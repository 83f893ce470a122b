"""Virtual devices and their objects. All objects are served by the one BMS device (8888); a
virtual device is a named group of them, and its id prefixes the objects' BACnet names."""

from __future__ import annotations

from django.db import models

from bms.bacnet.local.spec import served_commandable
from bms.profiles.models import DeviceProfile


class VirtualBACnetDevice(models.Model):
    device_id = models.PositiveIntegerField(unique=True)
    device_name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    template = models.CharField(max_length=60, blank=True)  # the profile's name when created
    # The profile it was built from: a profile in use cannot be deleted (bms.profiles).
    profile = models.ForeignKey(
        DeviceProfile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="virtual_devices",
    )
    is_running = models.BooleanField(default=True)
    last_external_write = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device_id"]

    def __str__(self) -> str:
        return f"{self.device_id} {self.device_name}"


def _all_transitions() -> list[bool]:
    return [True, True, True]  # to-offnormal, to-fault, to-normal


def _no_time_stamps() -> list[str | None]:
    return [None, None, None]


def _default_ack_required() -> list[bool]:
    return [True, True, False]


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
    # Intrinsic alarm reporting (bms.bacnet.local.alarm_spec.AlarmSpec): none without a class.
    notification_class = models.PositiveIntegerField(null=True, blank=True)
    high_limit = models.FloatField(null=True, blank=True)  # None: limit disabled
    low_limit = models.FloatField(null=True, blank=True)
    deadband = models.FloatField(default=0.0)
    alarm_values = models.JSONField(default=list, blank=True)  # binary / multi-state
    time_delay = models.PositiveIntegerField(default=0)  # seconds
    time_delay_normal = models.PositiveIntegerField(null=True, blank=True)
    event_enable = models.JSONField(default=_all_transitions)
    notify_type = models.CharField(max_length=10, default="alarm")  # "alarm" / "event"
    # The device's event state, stored as it changes (not an edit: updated_at stays).
    event_state = models.CharField(max_length=20, default="normal")
    acked_transitions = models.JSONField(default=_all_transitions)
    event_time_stamps = models.JSONField(default=_no_time_stamps)  # ISO 8601 or None
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
        """Outputs always, inputs never; a value object unless it was made without a priority
        array (a profile's commandable=False, bms.bacnet.local.spec.served_commandable)."""
        return served_commandable(self.object_type, self.priority_array is not None)


class NotificationClass(models.Model):
    """A notification class object served by device 8888 (bms.bacnet.local.alarm_spec)."""

    instance = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    priority_to_offnormal = models.PositiveSmallIntegerField(default=100)
    priority_to_fault = models.PositiveSmallIntegerField(default=100)
    priority_to_normal = models.PositiveSmallIntegerField(default=200)
    ack_required = models.JSONField(default=_default_ack_required)
    # [{"process_id": 1, "device": 9001 | None, "address": "10.0.0.5:47808" | None,
    #   "confirmed": bool, "transitions": [3 bools], "valid_days": [7 bools, Monday first],
    #   "from_time": "00:00:00", "to_time": "23:59:59.99"}, ...]
    recipients = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instance"]

    def __str__(self) -> str:
        return f"notification class {self.instance} {self.name}"


class VirtualTrendLog(models.Model):
    """A trend log object served by device 8888 (bms.bacnet.local.trendlog): its records are
    the readings of the logged virtual object (bms.worker.trendlog_source)."""

    LOGGING_TYPES = [("polled", "Periodic"), ("cov", "Change of value")]

    instance = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    logged_object = models.ForeignKey(
        VirtualObject, on_delete=models.CASCADE, related_name="trend_logs"
    )
    logging_type = models.CharField(max_length=10, choices=LOGGING_TYPES, default="cov")
    log_interval = models.PositiveIntegerField(default=60)  # seconds, when periodic
    buffer_size = models.PositiveIntegerField(default=10_000)
    enabled = models.BooleanField(default=True)
    start_time = models.DateTimeField(null=True, blank=True)
    stop_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instance"]

    def __str__(self) -> str:
        return f"trend log {self.instance} {self.name}"
