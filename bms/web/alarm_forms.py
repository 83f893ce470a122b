"""Forms of the alarm pages: a notification class, a virtual object's alarm settings, a BMS
alarm rule and an alarm notifier. They check only the shape of what was typed; the rules are
bms.bacnet.local.alarm_spec's and bms.bacnet.alarm_rules', asked by the services
(bms.virtual.notification_classes, bms.virtual.services.update_virtual_object,
bms.alarms.configuration)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from bms.alarms.models import NOTIFIER_KINDS, RULE_KINDS, AlarmNotifier, AlarmRule
from bms.bacnet.commanding import MAX_INSTANCE
from bms.bacnet.local.alarm_spec import MAX_PRIORITY, MAX_TIME_DELAY
from bms.profiles.built_in import DEFAULT_NOTIFICATION_CLASS
from bms.virtual.models import NotificationClass, VirtualObject

TRANSITION_LABELS = ("to off-normal", "to fault", "to normal")
RECIPIENTS_HELP = (
    'A JSON list, e.g. [{"process_id": 1, "device": 9001, "confirmed": true}] or with '
    '"address": "127.0.0.9:47808"; optional "transitions" (3 booleans), "valid_days" '
    '(7, Monday first), "from_time", "to_time".'
)


def _bits_field(label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        required=False,
        choices=list(enumerate(TRANSITION_LABELS)),
        widget=forms.CheckboxSelectMultiple,
    )


def bits_from(chosen: list[str]) -> list[bool]:
    return [str(n) in chosen for n in range(3)]


def chosen_from(bits: list[bool]) -> list[str]:
    return [str(n) for n, on in enumerate(bits) if on]


class NotificationClassForm(forms.Form):
    instance = forms.IntegerField(min_value=0, max_value=MAX_INSTANCE)
    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    priority_to_offnormal = forms.IntegerField(min_value=0, max_value=255, initial=100)
    priority_to_fault = forms.IntegerField(min_value=0, max_value=255, initial=100)
    priority_to_normal = forms.IntegerField(min_value=0, max_value=255, initial=200)
    ack_required = _bits_field("Acknowledgement required")
    recipients = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text=RECIPIENTS_HELP
    )

    def clean_recipients(self) -> list[Any]:
        text = self.cleaned_data["recipients"].strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not JSON: {exc}") from exc
        if not isinstance(value, list):
            raise forms.ValidationError("a JSON list of recipients, [...]")
        return value

    def fields_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["ack_required"] = bits_from(data["ack_required"])
        data.pop("instance")
        return data

    @classmethod
    def of(cls, row: NotificationClass) -> NotificationClassForm:
        return cls(
            initial={
                "instance": row.instance,
                "name": row.name,
                "description": row.description,
                "priority_to_offnormal": row.priority_to_offnormal,
                "priority_to_fault": row.priority_to_fault,
                "priority_to_normal": row.priority_to_normal,
                "ack_required": chosen_from(row.ack_required),
                "recipients": json.dumps(row.recipients, indent=1) if row.recipients else "",
            }
        )


class AlarmSettingsForm(forms.Form):
    """A virtual object's intrinsic reporting; an empty limit is a disabled limit."""

    notification_class = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Notification class (none: no alarms)"
    )
    high_limit = forms.FloatField(required=False, label="High limit (empty: off)")
    low_limit = forms.FloatField(required=False, label="Low limit (empty: off)")
    deadband = forms.FloatField(required=False, min_value=0, initial=0.0)
    time_delay = forms.IntegerField(min_value=0, max_value=86400, initial=0, label="Time delay (s)")
    time_delay_normal = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=86400,
        label="Time delay to normal (s; empty: as above)",
    )
    alarm_values = forms.CharField(
        required=False,
        max_length=500,
        label="Alarm values (binary: active/inactive; multi-state: state numbers, comma separated)",
    )
    event_enable = _bits_field("Events enabled")
    notify_type = forms.ChoiceField(choices=[("alarm", "alarm"), ("event", "event")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["notification_class"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "none")] + [
            (str(row.instance), f"{row.instance} {row.name}")
            for row in NotificationClass.objects.all()
        ]

    def changes(self, obj: VirtualObject) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["event_enable"] = bits_from(data["event_enable"])
        data["deadband"] = data["deadband"] or 0.0
        data["alarm_values"] = _alarm_values(data["alarm_values"], obj.object_type)
        return data

    @classmethod
    def of(cls, obj: VirtualObject) -> AlarmSettingsForm:
        return cls(
            initial={
                "notification_class": obj.notification_class,
                "high_limit": obj.high_limit,
                "low_limit": obj.low_limit,
                "deadband": obj.deadband,
                "time_delay": obj.time_delay,
                "time_delay_normal": obj.time_delay_normal,
                "alarm_values": ", ".join(str(v) for v in obj.alarm_values),
                "event_enable": chosen_from(obj.event_enable),
                "notify_type": obj.notify_type,
            }
        )


def _alarm_values(text: str, object_type: str) -> list[Any]:
    """Multi-state values as numbers; binary ones as the words typed (the spec checks them)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if object_type.startswith("multi-state"):
        return [int(part) if part.isdigit() else part for part in parts]
    return parts


# ---- BMS alarm rules and notifiers (bms.alarms.configuration checks what they mean) --------


class AlarmRuleForm(forms.Form):
    """A rule on a remote point; empty numbers are "not set" (the service says which a kind
    needs)."""

    point = forms.IntegerField(
        min_value=1,
        label="Point id",
        help_text="The number in the point page's address (/points/<id>/).",
    )
    kind = forms.ChoiceField(choices=RULE_KINDS)
    high = forms.FloatField(required=False, label="High limit (high-limit rules)")
    low = forms.FloatField(required=False, label="Low limit (low-limit rules)")
    deadband = forms.FloatField(required=False, min_value=0, initial=0.0)
    delay_seconds = forms.IntegerField(
        min_value=0, max_value=MAX_TIME_DELAY, initial=0, label="Delay (s)"
    )
    stale_seconds = forms.IntegerField(
        min_value=0, max_value=MAX_TIME_DELAY, initial=0, label="Stale after (s; stale rules)"
    )
    alarm_value = forms.CharField(
        max_length=40,
        initial="active",
        label="Alarm value (binary-state rules: active or inactive)",
    )
    priority = forms.IntegerField(
        min_value=0, max_value=MAX_PRIORITY, initial=100, help_text="0 is the most urgent."
    )
    notification_class = forms.IntegerField(
        min_value=0,
        max_value=MAX_INSTANCE,
        initial=DEFAULT_NOTIFICATION_CLASS,
        help_text="Its alarm's class: notifiers limited to a class receive that class's alarms.",
    )
    message = forms.CharField(required=False, max_length=255)
    enabled = forms.BooleanField(required=False, initial=True)

    def fields_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("point")
        data["deadband"] = data["deadband"] or 0.0
        return data

    @classmethod
    def of(cls, rule: AlarmRule) -> AlarmRuleForm:
        form = cls(initial={name: getattr(rule, name) for name in RULE_FORM_FIELDS})
        form.fields["point"].disabled = True  # a rule on another point is another rule
        return form


RULE_FORM_FIELDS = ("point", *(name for name in AlarmRuleForm.base_fields if name != "point"))


class AlarmNotifierForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=NOTIFIER_KINDS)
    target = forms.CharField(
        max_length=500, help_text="E-mail: addresses separated by commas; webhook: its http(s) URL."
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhook: the key its body is signed with (HMAC-SHA256); empty on edit: kept.",
    )
    min_priority = forms.IntegerField(min_value=0, max_value=MAX_PRIORITY, initial=0)
    max_priority = forms.IntegerField(min_value=0, max_value=MAX_PRIORITY, initial=MAX_PRIORITY)
    notification_class = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_INSTANCE, label="Notification class (empty: any)"
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def fields_for_service(self, editing: bool = False) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if editing and not data["secret"]:
            data.pop("secret")  # a password field is never shown again: empty keeps it
        return data

    @classmethod
    def of(cls, notifier: AlarmNotifier) -> AlarmNotifierForm:
        names = [name for name in cls.base_fields if name != "secret"]
        return cls(initial={name: getattr(notifier, name) for name in names})
