"""Forms of the device-profile and engineering-data pages. They read what was typed; the rules
(what an object may be, what an EDE file must hold) are bms.profiles' and bms.bacnet's."""

from __future__ import annotations

from typing import Any

from django import forms

from bms.bacnet.commanding import MAX_INSTANCE
from bms.bacnet.types import POINT_TYPES
from bms.devices.models import BACnetDevice
from bms.profiles.definitions import ObjectDefinition
from bms.profiles.services import NAME_LENGTH
from bms.virtual.models import VirtualBACnetDevice

COMMANDABLE_CHOICES = [("", "as its type"), ("yes", "yes"), ("no", "no")]


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=NAME_LENGTH)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CopyForm(forms.Form):
    name = forms.CharField(max_length=NAME_LENGTH, label="Name of the copy")


class BuildForm(forms.Form):
    device_id = forms.IntegerField(min_value=0, max_value=MAX_INSTANCE, label="Device id")
    device_name = forms.CharField(max_length=255, label="Name")


class EdeUploadForm(forms.Form):
    main = forms.FileField(label="EDE file")
    state_texts = forms.FileField(required=False, label="State-text file")

    def contents(self) -> tuple[bytes, bytes | None]:
        texts = self.cleaned_data["state_texts"]
        return self.cleaned_data["main"].read(), texts.read() if texts else None


class EdeProfileForm(EdeUploadForm):
    name = forms.CharField(max_length=NAME_LENGTH, label="Profile name")
    description = forms.CharField(required=False)
    device_instance = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_INSTANCE,
        label="Device instance (when the file has several)",
    )


class FromDeviceForm(forms.Form):
    device = forms.ModelChoiceField(queryset=BACnetDevice.objects.all(), label="Discovered device")
    name = forms.CharField(max_length=NAME_LENGTH, label="Profile name")


class FromVirtualForm(forms.Form):
    device = forms.ModelChoiceField(
        queryset=VirtualBACnetDevice.objects.all(), label="Virtual device"
    )
    name = forms.CharField(max_length=NAME_LENGTH, label="Profile name")


class ProfileObjectForm(forms.Form):
    object_type = forms.ChoiceField(choices=[(kind, kind) for kind in sorted(POINT_TYPES)])
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False)
    units = forms.CharField(required=False, max_length=80, help_text="e.g. degrees-celsius")
    default = forms.CharField(required=False, label="Default value")
    min_value = forms.FloatField(required=False)
    max_value = forms.FloatField(required=False)
    state_texts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line; binary: inactive then active",
    )
    commandable = forms.ChoiceField(choices=COMMANDABLE_CHOICES, required=False)
    cov_increment = forms.FloatField(required=False, label="COV increment")
    notification_class = forms.IntegerField(required=False, min_value=0, max_value=MAX_INSTANCE)
    high_limit = forms.FloatField(required=False)
    low_limit = forms.FloatField(required=False)
    deadband = forms.FloatField(required=False, min_value=0)
    time_delay = forms.IntegerField(required=False, min_value=0, label="Time delay (s)")
    trend_log = forms.BooleanField(required=False, label="Trend log")

    def definition(self) -> ObjectDefinition:
        data: dict[str, Any] = dict(self.cleaned_data)
        texts = [line.strip() for line in data.pop("state_texts").splitlines()]
        commandable = data.pop("commandable")
        return ObjectDefinition(
            **data
            | {
                "default": data["default"].strip() or None,
                "deadband": data["deadband"] or 0.0,
                "time_delay": data["time_delay"] or 0,
                "state_texts": tuple(text for text in texts if text),
                "commandable": {"yes": True, "no": False}.get(commandable),
            }
        )
