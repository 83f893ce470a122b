"""The BACnet task row (seed 000's BACnetTask, plus what a leased queue needs) and workers."""

from __future__ import annotations

from django.db import models

from bms.tasks import states


class BACnetTask(models.Model):
    TASK_TYPES = [
        ("discover", "Device Discovery"),
        ("collect", "Collect Readings"),
        ("read_points", "Read Points"),
        ("write_point", "Write Point"),
        ("read_object", "Read Object Properties"),
        ("history", "History Roll-up and Retention"),
        ("acknowledge_alarm", "Acknowledge Alarm"),
        ("read_schedule", "Read Schedule or Calendar"),
        ("write_schedule", "Write Schedule or Calendar"),
        ("manage_device", "Device Management"),
        ("backfill_trendlog", "Backfill Trend Logs"),
        ("enroll_alarms", "Enroll for Alarms"),
    ]

    STATUS_CHOICES = [
        (states.PENDING, "Pending"),
        (states.RUNNING, "Running"),
        (states.COMPLETED, "Completed"),
        (states.FAILED, "Failed"),
    ]

    task_type = models.CharField(max_length=20, choices=TASK_TYPES)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=states.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    parameters = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # {"done": 3, "total": 10, "message": "reading device 1003"}
    progress = models.JSONField(default=dict, blank=True)
    worker_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    site = models.CharField(max_length=100, default="default")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # claim_next: the oldest pending task of one site.
            models.Index(fields=["status", "site", "created_at"], name="bacnettask_claim_idx"),
            # requeue_expired: running tasks by lease.
            models.Index(fields=["status", "lease_expires_at"], name="bacnettask_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} - {self.status} ({self.created_at})"

    @property
    def is_finished(self) -> bool:
        return self.status in states.FINAL


class WorkerHeartbeat(models.Model):
    """A BACnet worker process, as last seen by its own heartbeat (for get_status).

    The process itself is bms.worker.runtime.Worker; this is its row.
    """

    worker_id = models.CharField(max_length=200, unique=True)
    site = models.CharField(max_length=100, default="default")
    backend = models.CharField(max_length=20, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    bacnet_address = models.CharField(max_length=100, blank=True, db_default="")  # a.b.c.d/nn:port
    # A foreign device's BBMD and how its registration stands ("registered", "pending", or why
    # the BBMD refused); both empty for a worker on its devices' own subnet.
    bbmd = models.CharField(max_length=100, blank=True, db_default="")
    bbmd_registration = models.CharField(max_length=100, blank=True, db_default="")
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "tasks_worker"  # its name before the rename: no data moved

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.site})"
