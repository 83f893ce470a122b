"""Alarms and events: what went wrong where, when it changed, and who acknowledged it.

An `Alarm` is one event source as it stands now: a virtual object served by device 8888, an
object of a remote device, or a BMS rule (named). Each change of its event state is an
`AlarmTransition` with its time stamp, priority, message and notify type; an acknowledgement is
stored on the transition it acknowledges (who, when, from where, with what comment).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from bms.bacnet.alarm_rules import RuleError, RuleSpec
from bms.devices.models import BACnetPoint
from bms.profiles.built_in import DEFAULT_NOTIFICATION_CLASS
from bms.virtual.models import VirtualObject

SOURCE_KINDS = [("virtual", "virtual object"), ("remote", "remote object"), ("rule", "BMS rule")]
TRANSITIONS = [
    ("to-offnormal", "to off-normal"),
    ("to-fault", "to fault"),
    ("to-normal", "to normal"),
]


# One home for "active" and "unacknowledged" (bms.alarms.queries counts and filters by them;
# the partial indexes below are on them). acked_transitions is a JSON list of three booleans; an
# index lookup works on SQLite and PostgreSQL alike (JSON containment does not).
ACTIVE = ~models.Q(event_state="normal")
UNACKNOWLEDGED = (
    models.Q(acked_transitions__0=False)
    | models.Q(acked_transitions__1=False)
    | models.Q(acked_transitions__2=False)
)


def _all_acked() -> list[bool]:
    return [True, True, True]


class Alarm(models.Model):
    """One event source and its current state (one row per source)."""

    source_kind = models.CharField(max_length=10, choices=SOURCE_KINDS)
    # Exactly one of these names the source, as source_kind says.
    virtual_object = models.OneToOneField(
        VirtualObject, null=True, blank=True, on_delete=models.CASCADE, related_name="alarm"
    )
    point = models.OneToOneField(
        BACnetPoint, null=True, blank=True, on_delete=models.CASCADE, related_name="alarm"
    )
    rule = models.CharField(max_length=120, blank=True)
    # The BACnet event-initiating object (device 8888's, a remote device's); empty for a rule.
    device_instance = models.PositiveIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    instance = models.PositiveIntegerField(null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    event_state = models.CharField(max_length=20, default="normal")
    event_type = models.CharField(max_length=40, blank=True)  # "out-of-range", ...
    acked_transitions = models.JSONField(default=_all_acked)  # to-offnormal, to-fault, to-normal
    priority = models.PositiveSmallIntegerField(default=255)  # of the last transition
    notify_type = models.CharField(max_length=10, default="alarm")
    notification_class = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    last_transition_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_transition_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"], condition=~models.Q(rule=""), name="alarm_unique_rule"
            ),
        ]
        indexes = [
            models.Index(fields=["event_state", "priority"]),
            # The counts every alarm batch publishes, and the console's state filters: partial,
            # so they read the active or unacknowledged alarms, not every source's row.
            models.Index(fields=["priority"], condition=ACTIVE, name="alarm_active"),
            models.Index(fields=["priority"], condition=UNACKNOWLEDGED, name="alarm_unacked"),
            # A remote alarm found by its source (bms.alarms.remote), the console's device filter.
            models.Index(
                fields=["device_instance", "object_type", "instance"], name="alarm_source_object"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.rule} {self.event_state}"

    @property
    def unacknowledged(self) -> bool:
        return not all(self.acked_transitions)


class AlarmTransition(models.Model):
    """One change of an alarm's event state, and its acknowledgement once given."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    transition = models.CharField(max_length=14, choices=TRANSITIONS)
    time_stamp = models.DateTimeField()  # when the source says it happened
    priority = models.PositiveSmallIntegerField()
    notify_type = models.CharField(max_length=10)
    event_type = models.CharField(max_length=40, blank=True)
    ack_required = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    acked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A BACnet acknowledgement: the peer's acknowledgment-source text, address and process.
    ack_source = models.CharField(max_length=255, blank=True)
    ack_address = models.CharField(max_length=80, blank=True)
    ack_process_id = models.PositiveBigIntegerField(null=True, blank=True)
    ack_comment = models.TextField(blank=True)
    # An operator's acknowledgement goes to the source through a worker task (ack_task_id):
    # "accepted", or the BACnet error or silence that refused it.
    ack_task_id = models.PositiveBigIntegerField(null=True, blank=True)
    ack_result = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-time_stamp", "-id"]
        indexes = [models.Index(fields=["alarm", "transition", "-time_stamp"])]

    def __str__(self) -> str:
        return f"{self.alarm} {self.from_state} -> {self.to_state} at {self.time_stamp}"


NOTIFIER_KINDS = [("email", "e-mail"), ("webhook", "signed JSON webhook")]


class AlarmNotifier(models.Model):
    """Where the worker sends a transition's notification (bms.alarms.notifiers): e-mail through
    Django's mail settings, or a JSON webhook signed with HMAC-SHA256 of the body."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=NOTIFIER_KINDS)
    # E-mail: addresses separated by commas; webhook: an http(s) URL.
    target = models.CharField(max_length=500)
    secret = models.CharField(max_length=200, blank=True)  # webhook signing key
    min_priority = models.PositiveSmallIntegerField(default=0)  # 0 is the most urgent
    max_priority = models.PositiveSmallIntegerField(default=255)
    notification_class = models.PositiveIntegerField(null=True, blank=True)  # None: any
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.kind} notifier {self.name}"


RULE_KINDS = [
    ("high_limit", "high limit"),
    ("low_limit", "low limit"),
    ("binary_state", "binary alarm state"),
    ("stale", "stale value"),
]


class AlarmRule(models.Model):
    """A BMS alarm rule on a remote point, evaluated in the worker (bms.bacnet.alarm_rules);
    its alarm is the Alarm of source 'rule' named `rule_name`."""

    point = models.ForeignKey(BACnetPoint, on_delete=models.CASCADE, related_name="alarm_rules")
    kind = models.CharField(max_length=14, choices=RULE_KINDS)
    high = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    deadband = models.FloatField(default=0.0)
    delay_seconds = models.PositiveIntegerField(default=0)
    stale_seconds = models.PositiveIntegerField(default=0)
    alarm_value = models.CharField(max_length=40, default="active")  # binary_state
    priority = models.PositiveSmallIntegerField(default=100)
    # Carried onto its alarm, so notifiers limited to a class (AlarmNotifier) receive it; the
    # class device 8888's own alarms name by default.
    notification_class = models.PositiveIntegerField(default=DEFAULT_NOTIFICATION_CLASS)
    message = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["point_id", "kind"]

    def __str__(self) -> str:
        return f"{self.kind} rule on {self.point_id}"

    @property
    def rule_name(self) -> str:
        return f"rule:{self.pk}"

    def spec(self) -> RuleSpec:
        """The evaluator's form of the rule; RuleError says what is wrong with it."""
        return RuleSpec(
            kind=self.kind,
            high=self.high,
            low=self.low,
            deadband=self.deadband,
            delay_seconds=self.delay_seconds,
            stale_seconds=self.stale_seconds,
            alarm_value=self.alarm_value,
        )

    def clean(self) -> None:
        try:
            self.spec()
        except RuleError as exc:
            raise ValidationError(str(exc)) from exc


class AlarmRuleRevision(models.Model):
    """One counter, bumped in the transaction of every rule created, edited or deleted
    (bms.alarms.configuration): the worker reads this one row each second and reloads the rules
    only when it moved (bms.worker.alarm_rules)."""

    revision = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"alarm rule revision {self.revision}"


class NotificationCursor(models.Model):
    """The last alarm transition handed to the notifiers: one row that every worker moves with a
    conditional UPDATE (bms.alarms.outbox), so a restarted worker carries on from it and two
    workers never both send a transition."""

    last_transition_id = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"alarm notifications sent up to transition {self.last_transition_id}"
