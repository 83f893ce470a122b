"""The monitoring form of the device and point pages: each field may inherit (empty)."""

from __future__ import annotations

from typing import Any

from django import forms

from bms.bacnet.cov_plan import MODES
from bms.devices.monitoring import MAX_POLL_SECONDS, MIN_POLL_SECONDS

MONITORED_CHOICES = [("", "inherit"), ("yes", "yes"), ("no", "no")]
MODE_CHOICES = [("", "inherit"), *((mode, mode) for mode in MODES)]


class MonitoringForm(forms.Form):
    monitored = forms.ChoiceField(choices=MONITORED_CHOICES, required=False)
    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False)
    poll_seconds = forms.IntegerField(
        required=False, min_value=MIN_POLL_SECONDS, max_value=MAX_POLL_SECONDS
    )

    def settings(self) -> dict[str, Any]:
        """The keywords of set_device_monitoring / set_point_monitoring (None, "" inherit)."""
        data = self.cleaned_data
        return {
            "monitored": {"yes": True, "no": False}.get(data["monitored"]),
            "mode": data["mode"],
            "poll_seconds": data["poll_seconds"],
        }
