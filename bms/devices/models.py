"""Remote BACnet devices and points, readings of them and of our virtual objects, write audit."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

# How a monitored point's value is learned: by COV only, by polling only, or by COV with polling
# where the device refuses COV ("auto"). An empty mode on a point means its device's; on a
# device, the site's (BACNET_MONITOR_DEFAULT_MODE). See bms.devices.monitoring.
MONITOR_MODES = [("cov", "COV"), ("poll", "Poll"), ("auto", "COV, else poll")]

# A device answers (online), stopped answering (unreachable), or has been unreachable for longer
# than BACNET_OFFLINE_AFTER_SECONDS (offline). The rules: bms.bacnet.health.
HEALTH_STATES = [("online", "Online"), ("unreachable", "Unreachable"), ("offline", "Offline")]


class BACnetDevice(models.Model):
    """A device that answered Who-Is, with what we read from its device object."""

    site = models.CharField(max_length=100, default="default")
    device_instance = models.PositiveIntegerField()
    address = models.CharField(max_length=100)  # "192.168.1.20", "192.168.1.20:47809", "2:0x0a"
    network_number = models.PositiveIntegerField(null=True, blank=True)  # routed devices
    mac = models.CharField(max_length=64, blank=True)  # MAC on the remote network, hex
    name = models.CharField(max_length=255, blank=True)
    vendor_name = models.CharField(max_length=255, blank=True)
    vendor_id = models.PositiveIntegerField(null=True, blank=True)
    model_name = models.CharField(max_length=255, blank=True)
    firmware_revision = models.CharField(max_length=255, blank=True)
    application_software_version = models.CharField(max_length=255, blank=True)
    protocol_revision = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=255, blank=True)
    max_apdu = models.PositiveIntegerField(null=True, blank=True)
    segmentation = models.CharField(max_length=40, blank=True)
    services_supported = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    # Kept equal to health == "online" (bms.devices.monitoring.record_health_change).
    online = models.BooleanField(default=True)
    health = models.CharField(max_length=12, choices=HEALTH_STATES, default="online")
    health_changed_at = models.DateTimeField(null=True, blank=True)
    health_reason = models.CharField(max_length=255, blank=True)
    # Monitoring: None / "" mean the site's default (settings BACNET_MONITOR_DEFAULT...).
    monitored = models.BooleanField(null=True, blank=True)
    monitor_mode = models.CharField(max_length=8, choices=MONITOR_MODES, blank=True)
    poll_seconds = models.PositiveIntegerField(null=True, blank=True)
    # What the device refused to subscribe to, so a restart does not learn it again by failing:
    # {"analog-input": {"reason": "...", "at": iso time}}; the key "*" means every object type.
    cov_refused = models.JSONField(default=dict, blank=True)
    # The site's MonitoringRevision when this device's monitoring settings (or its points')
    # last changed: the worker reloads only the devices whose revision moved.
    monitor_revision = models.PositiveBigIntegerField(default=0)
    # What the worker's capability cache (bms.bacnet.capabilities) held about the device after a
    # read, so a restart does not learn it again by failing; None: not known. Observations beat
    # the claims above (max_apdu, segmentation, services_supported): a device that claims to
    # segment may abort our segmented reads. Saved by bms.worker.store.capabilities.
    learned_rpm = models.BooleanField(null=True, blank=True)
    learned_segmentation = models.BooleanField(null=True, blank=True)
    learned_max_apdu = models.PositiveIntegerField(null=True, blank=True)
    learned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "device_instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "device_instance"], name="bacnetdevice_unique_instance_per_site"
            ),
        ]

    def __str__(self) -> str:
        return f"device {self.device_instance} {self.name}".rstrip()

    def learned_summary(self) -> str:
        """What it was seen to do, for people: "no RPM / no segmentation / max APDU 480"."""
        parts = []
        if self.learned_rpm is not None:
            parts.append("take RPM" if self.learned_rpm else "no RPM")
        if self.learned_segmentation is not None:
            parts.append("segment" if self.learned_segmentation else "no segmentation")
        if self.learned_max_apdu is not None:
            parts.append(f"max APDU {self.learned_max_apdu}")
        return " / ".join(parts)


class BACnetPoint(models.Model):
    """One object of a remote device (analog/binary/multi-state input, output or value)."""

    device = models.ForeignKey(BACnetDevice, on_delete=models.CASCADE, related_name="points")
    object_type = models.CharField(max_length=40)  # BACnet's hyphenated name, "analog-input"
    instance = models.PositiveIntegerField()
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    units = models.CharField(max_length=80, blank=True)
    state_texts = models.JSONField(default=list, blank=True)
    commandable = models.BooleanField(default=False)
    last_value = models.JSONField(null=True, blank=True)
    last_value_at = models.DateTimeField(null=True, blank=True)
    # [in-alarm, fault, overridden, out-of-service]
    status_flags = models.JSONField(null=True, blank=True)
    # Every property of the object as last read ("Read all properties", a read_object task):
    # {"property-name": value as JSON}; what the device refused is in property_errors.
    properties = models.JSONField(default=dict, blank=True)
    property_errors = models.JSONField(default=dict, blank=True)
    properties_read_at = models.DateTimeField(null=True, blank=True)
    # Monitoring: None / "" mean the device's setting (which may itself be the site's).
    monitored = models.BooleanField(null=True, blank=True)
    monitor_mode = models.CharField(max_length=8, choices=MONITOR_MODES, blank=True)
    poll_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Trend-log objects: the point of the same device they log (when they log one of its
    # points' present value), and the last record's sequence number read with ReadRange.
    logged_point = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="trend_logs"
    )
    log_sequence = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["device", "object_type", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "object_type", "instance"], name="bacnetpoint_unique_object"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type},{self.instance} {self.name}".rstrip()


class BACnetReading(models.Model):
    """A value of a remote point or of one of our virtual objects, at a time, from a source.

    On PostgreSQL the table is partitioned by range of `timestamp` (migration 0008, upkeep in
    bms.history.partitions): the database's primary key is (id, timestamp), as a partitioned
    table's must include its partition key; Django's primary key stays `id`, unique because
    every id comes from the one identity sequence."""

    SOURCE_CHOICES = [
        ("poll", "Poll"),
        ("cov", "Change of value"),
        ("external_bacnet_write", "External BACnet write"),
        ("operator_write", "Operator write"),
        ("trendlog", "Device trend log"),  # read back with ReadRange (worker.trendlog_backfill)
    ]

    # No single-column index on either subject: the (subject, timestamp) indexes below serve
    # every lookup by subject, and each index is paid on every reading stored (6 -> 4 indexes
    # per insert at 1,000 COV values/s, bench/cov.py).
    point = models.ForeignKey(
        BACnetPoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,
    )
    virtual_object = models.ForeignKey(
        "virtual.VirtualObject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,
    )
    value = models.JSONField(null=True)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=30, choices=SOURCE_CHOICES, default="poll")

    class Meta:
        ordering = ["-timestamp"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(point__isnull=False, virtual_object__isnull=True)
                    | Q(point__isnull=True, virtual_object__isnull=False)
                ),
                name="bacnetreading_exactly_one_subject",
            ),
        ]
        indexes = [
            # Trends: one point's readings over a time range.
            models.Index(fields=["point", "timestamp"], name="bacnetreading_point_time_idx"),
            models.Index(
                fields=["virtual_object", "timestamp"], name="bacnetreading_virtual_time_idx"
            ),
        ]

    def __str__(self) -> str:
        subject = self.point_id or f"virtual {self.virtual_object_id}"
        return f"{subject} = {self.value!r} ({self.source}, {self.timestamp})"


class MonitoringRevision(models.Model):
    """A counter per site, bumped in the same transaction as every change of monitoring settings
    (bms.devices.monitoring): the worker reads this one row each second and reloads only when
    it moved, and then only the devices stamped with a newer revision."""

    site = models.CharField(max_length=100, unique=True)
    revision = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"monitoring revision {self.revision} of site {self.site}"


class DeviceHealthEvent(models.Model):
    """A change of a device's health, when and why (comm-loss alarms are raised from these)."""

    device = models.ForeignKey(BACnetDevice, on_delete=models.CASCADE, related_name="health_events")
    time = models.DateTimeField(default=timezone.now)
    from_health = models.CharField(max_length=12, choices=HEALTH_STATES)
    to_health = models.CharField(max_length=12, choices=HEALTH_STATES)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-time"]
        indexes = [
            models.Index(fields=["device", "time"], name="devicehealth_device_time_idx"),
        ]

    def __str__(self) -> str:
        return f"device {self.device_id}: {self.from_health} -> {self.to_health} ({self.reason})"


class NetworkScan(models.Model):
    """One discovery run: when, with which Who-Is parameters, how many answered, how long."""

    site = models.CharField(max_length=100, default="default")
    scan_time = models.DateTimeField(default=timezone.now, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    devices_found = models.PositiveIntegerField(default=0)
    duration = models.DurationField(null=True, blank=True)
    task = models.ForeignKey(
        "tasks.BACnetTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )

    class Meta:
        ordering = ["-scan_time"]
        get_latest_by = "scan_time"

    def __str__(self) -> str:
        return f"scan {self.scan_time}: {self.devices_found} devices"


class WriteAudit(models.Model):
    """Every write, accepted or refused: external BACnet writes to our virtual objects, and
    operator/API writes to virtual objects or remote points."""

    SOURCE_CHOICES = [
        ("bacnet", "BACnet"),
        ("operator", "Operator"),
        ("api", "API"),
        ("schedule", "Schedule"),  # a schedule of device 8888 writing its targets
    ]

    time = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=20, choices=SOURCE_CHOICES)
    who = models.CharField(max_length=255, blank=True)  # user name, or the writer's address
    object_ref = models.CharField(max_length=255)  # "analog-output,3" plus device if remote
    virtual_object = models.ForeignKey(
        "virtual.VirtualObject",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="write_audits",
    )
    point = models.ForeignKey(
        BACnetPoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="write_audits"
    )
    property = models.CharField(max_length=80, default="present-value")
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    accepted = models.BooleanField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        verdict = "accepted" if self.accepted else "refused"
        return f"{self.source} write {self.object_ref} = {self.new_value!r} {verdict}"


class ConfigAudit(models.Model):
    """A change of configuration or a sign-in: who did what to which thing, with the fields
    as they were and as they became (no secrets: a password change says only that it changed)."""

    ACTION_CHOICES = [
        ("virtual_device_created", "Virtual device created"),
        ("virtual_device_changed", "Virtual device changed"),
        ("virtual_device_deleted", "Virtual device deleted"),
        ("token_issued", "API token issued"),
        ("token_revoked", "API token revoked"),
        ("user_created", "User created"),
        ("user_changed", "User changed"),
        ("password_reset", "Password reset"),
        ("signed_in", "Signed in"),
        ("sign_in_failed", "Sign-in failed"),
        ("signed_out", "Signed out"),
        ("alarm_rule_created", "Alarm rule created"),
        ("alarm_rule_changed", "Alarm rule changed"),
        ("alarm_rule_deleted", "Alarm rule deleted"),
        ("alarm_notifier_created", "Alarm notifier created"),
        ("alarm_notifier_changed", "Alarm notifier changed"),
        ("alarm_notifier_deleted", "Alarm notifier deleted"),
        ("profile_created", "Device profile created"),
        ("profile_changed", "Device profile changed"),
        ("profile_deleted", "Device profile deleted"),
        ("expected_points_imported", "Expected points imported"),
        ("schedule_created", "Schedule created"),
        ("schedule_changed", "Schedule changed"),
        ("schedule_deleted", "Schedule deleted"),
        ("calendar_created", "Calendar created"),
        ("calendar_changed", "Calendar changed"),
        ("calendar_deleted", "Calendar deleted"),
    ]

    time = models.DateTimeField(default=timezone.now, db_index=True)
    who = models.CharField(max_length=255, blank=True)  # user name; empty for the system/CLI
    address = models.CharField(max_length=100, blank=True)  # the client's, for web requests
    action = models.CharField(max_length=40, choices=ACTION_CHOICES)
    target = models.CharField(max_length=255)  # "user alice", "virtual device 2001 AHU"
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.time} {self.who or 'system'} {self.action} {self.target}"
