"""Alarm notifiers are configured in the admin (kind, target, secret, priority range, class);
a notifier that cannot work is refused with check_notifier's reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from bms.alarms.models import AlarmNotifier
from bms.alarms.notifiers import check_notifier


class AlarmNotifierForm(forms.ModelForm):
    class Meta:
        model = AlarmNotifier
        fields = ["name", "kind", "target", "secret", "min_priority", "max_priority",
                  "notification_class", "enabled"]  # fmt: skip
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            candidate = AlarmNotifier(**{k: v for k, v in cleaned.items() if k != "id"})
            try:
                check_notifier(candidate)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


@admin.register(AlarmNotifier)
class AlarmNotifierAdmin(admin.ModelAdmin):
    form = AlarmNotifierForm
    list_display = (
        "name",
        "kind",
        "target",
        "min_priority",
        "max_priority",
        "notification_class",
        "enabled",
    )
    list_filter = ("kind", "enabled")
