"""Forms of the pages. They check only the shape of what was typed; the rules (ranges, the
value vocabulary) are bms.bacnet.commanding's, asked by the domain services the API shares."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from bms.bacnet.commanding import MAX_INSTANCE, PRIORITY_LEVELS
from bms.profiles import services as profiles
from bms.profiles.models import DeviceProfile
from bms.tasks import sites, submission


class DiscoverForm(forms.Form):
    low = forms.IntegerField(required=False, min_value=0, max_value=MAX_INSTANCE)
    high = forms.IntegerField(required=False, min_value=0, max_value=MAX_INSTANCE)
    address = forms.CharField(required=False, max_length=100, strip=True)
    # Unticked, a scan with the same range and address in the last few minutes answers
    # (BACNET_DISCOVERY_CACHE_SECONDS): a device added since would be missed.
    force = forms.BooleanField(required=False, label="Scan again")
    # Empty means this installation's BACNET_SITE, so a page without the field still works.
    site = forms.ChoiceField(
        required=False,
        label="Site",
        error_messages={
            "invalid_choice": "there is no site %(value)s; choose one of the list "
            "(a site appears when its worker starts or a device is found on it)",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        alive = sites.workers_alive()
        field = cast(forms.ChoiceField, self.fields["site"])
        field.choices = [
            (site, site if alive[site] else f"{site} (no worker alive: the task waits)")
            for site in sites.known_sites()
        ]
        field.initial = settings.BACNET_SITE

    def clean_address(self) -> str | None:
        try:
            return submission.checked_address(self.cleaned_data.get("address"))
        except submission.Refused as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("low"), data.get("high")
        if (low is None) != (high is None):
            raise forms.ValidationError("Give both ends of the instance range, or neither.")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(f"The range starts ({low}) above its end ({high}).")
        return data


class WriteForm(forms.Form):
    value = forms.CharField(required=False, max_length=100)
    priority = forms.IntegerField(required=False, min_value=1, max_value=PRIORITY_LEVELS)
    relinquish = forms.BooleanField(required=False)


class VirtualCommandForm(forms.Form):
    """A command to a virtual object. The priority's range and the value are checked by
    bms.virtual.commands.command_virtual_object, which audits what it refuses."""

    value = forms.CharField(required=False, max_length=100)
    priority = forms.IntegerField(required=False)
    relinquish = forms.BooleanField(required=False)


def profile_choices() -> list[tuple[str, str]]:
    """Every device profile (bms.profiles), read when a form is made."""
    profiles.profile_names()  # seeds a missing built-in one
    rows = DeviceProfile.objects.order_by("name").values_list("name", "description")
    return [
        (name, f"{name} — {description}" if description else name) for name, description in rows
    ]


class VirtualDeviceForm(forms.Form):
    device_id = forms.IntegerField(min_value=0, max_value=MAX_INSTANCE, label="Device id")
    device_name = forms.CharField(max_length=255, label="Name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    template = forms.ChoiceField(label="Profile", choices=profile_choices)


class VirtualDeviceEditForm(forms.Form):
    device_name = forms.CharField(max_length=255, label="Name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def first_error(form: forms.Form) -> str:
    """One sentence naming the field, for inline messages and JSON errors."""
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{form.fields[field].label or field}: "
        return f"{label}{errors[0]}"
    return "invalid input"


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="What is it for?",
        widget=forms.TextInput(attrs={"placeholder": "trend export script"}),
    )
