"""Roll-ups of readings (bms.devices.models.BACnetReading) and how far they have got."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ReadingRollup(models.Model):
    """The readings of a point or virtual object in one interval of `resolution` seconds
    (see bms.history.buckets for what counts as a number).

    On PostgreSQL the table is partitioned by resolution, its 1-minute buckets by week of
    `start` (migration 0002, upkeep in bms.history.partitions): the database's primary key is
    (id, resolution, start); Django's stays `id`, unique from the one identity sequence."""

    resolution = models.PositiveIntegerField()  # seconds: 60, 900, 3600 (config.RESOLUTIONS)
    point = models.ForeignKey(
        "devices.BACnetPoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rollups",
    )
    virtual_object = models.ForeignKey(
        "virtual.VirtualObject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rollups",
    )
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    numeric_count = models.PositiveIntegerField()
    total = models.FloatField()  # the sum of the numeric values
    minimum = models.FloatField(null=True)
    maximum = models.FloatField(null=True)
    last = models.JSONField(null=True)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(point__isnull=False, virtual_object__isnull=True)
                    | Q(point__isnull=True, virtual_object__isnull=False)
                ),
                name="readingrollup_exactly_one_subject",
            ),
            # Also the series query's indexes: one subject's buckets of one resolution by time.
            models.UniqueConstraint(
                fields=["point", "resolution", "start"],
                condition=Q(point__isnull=False),
                name="readingrollup_point_bucket",
            ),
            models.UniqueConstraint(
                fields=["virtual_object", "resolution", "start"],
                condition=Q(virtual_object__isnull=False),
                name="readingrollup_virtual_bucket",
            ),
        ]
        indexes = [
            # Roll-up of the next level and retention: one resolution by time.
            models.Index(fields=["resolution", "start"], name="readingrollup_level_time_idx"),
        ]

    def __str__(self) -> str:
        subject = self.point_id or f"virtual {self.virtual_object_id}"
        return f"{subject} {self.resolution}s {self.start}: {self.count} readings"


class RollupProgress(models.Model):
    """Every bucket of `resolution` before `rolled_until` has been rolled up (and a bucket is
    only rolled up once it has closed)."""

    resolution = models.PositiveIntegerField(unique=True)
    rolled_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.resolution}s rolled up until {self.rolled_until}"
