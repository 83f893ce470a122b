"""Alarm notifiers are configured in the admin too (kind, target, secret, priority range,
class); a notifier that cannot work is refused with check_notifier's reason, and every change
goes through bms.alarms.configuration (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from bms.alarms import configuration
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
    """Saved and deleted through bms.alarms.configuration, so the admin's changes are audited
    like the pages' and the API's (the form above already ran its checks)."""

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

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in configuration.NOTIFIER_FIELDS}
        stored = AlarmNotifier.objects.filter(pk=obj.pk).first() if change else None
        try:
            if stored is None:
                saved = configuration.create_notifier(**fields)
            else:
                saved = configuration.update_notifier(stored, **fields)
        except configuration.AlarmConfigError as exc:  # a name taken since the form checked
            raise ValidationError(str(exc)) from exc
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        configuration.delete_notifier(obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for notifier in queryset:
            configuration.delete_notifier(notifier)
