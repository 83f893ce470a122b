"""Schedule and Calendar objects served by the BMS device (8888), as stored.

The JSON columns hold what bms.bacnet.schedule_codec reads (its docstring has the shapes); a
schedule writes the present value of its target virtual objects at its priority-for-writing.
Rows are changed only through bms.schedules.services, which checks them first.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from bms.bacnet.commanding import DEFAULT_PRIORITY, MAX_INSTANCE, PRIORITY_LEVELS
from bms.virtual.models import VirtualObject


def _empty_week() -> list[list[object]]:
    return [[] for _ in range(7)]


def _open_period() -> dict[str, None]:
    return {"start": None, "end": None}


class Calendar(models.Model):
    instance = models.PositiveIntegerField(
        unique=True, validators=[MaxValueValidator(MAX_INSTANCE)]
    )
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    date_list = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instance"]

    def __str__(self) -> str:
        return f"calendar,{self.instance} {self.name}"


class Schedule(models.Model):
    KIND_CHOICES = [("analog", "Analog"), ("binary", "Binary"), ("multistate", "Multi-state")]

    instance = models.PositiveIntegerField(
        unique=True, validators=[MaxValueValidator(MAX_INSTANCE)]
    )
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    weekly = models.JSONField(default=_empty_week)
    exceptions = models.JSONField(default=list, blank=True)
    effective_period = models.JSONField(default=_open_period)
    schedule_default = models.JSONField(null=True, blank=True)
    priority_for_writing = models.PositiveSmallIntegerField(
        default=DEFAULT_PRIORITY,
        validators=[MinValueValidator(1), MaxValueValidator(PRIORITY_LEVELS)],
    )
    targets = models.ManyToManyField(VirtualObject, related_name="schedules", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instance"]

    def __str__(self) -> str:
        return f"schedule,{self.instance} {self.name}"
