"""Forms of the schedule and calendar pages. They read what was typed into the shapes of
bms.bacnet.schedule_codec (a default value by the schedule's kind, a calendar's date list one
entry a line); whether a schedule suits its targets is bms.schedules.services' to say.

A date list is typed one entry a line:
- a date `2026-12-25`, any part `*` for "any" (`*-12-25` every Christmas), and a weekday
  after it if wanted (`*-*-* 1`: every Monday, 1 is Monday);
- a range `2026-12-24..2026-12-26` (a side left empty is open);
- `week-n-day MONTH WEEK WEEKDAY`, numbers or `*` (`week-n-day * * 6`: every Saturday).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from bms.bacnet import schedule_codec
from bms.bacnet.commanding import MAX_INSTANCE, PRIORITY_LEVELS
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import POINT_TYPES
from bms.schedules import services
from bms.schedules.models import Calendar, Schedule
from bms.virtual.models import VirtualObject
from bms.web.schedule_grid import typed_value

DATES_HELP = (
    "One a line: a date 2026-12-25 (* for any part: *-12-25; a weekday after it: *-*-* 1 is "
    "every Monday), a range 2026-12-24..2026-12-26, "
    "or week-n-day MONTH WEEK WEEKDAY (numbers or *; week 6 is the last 7 days, weekday 1 is "
    "Monday): week-n-day * * 6 is every Saturday."
)
WEEK_N_DAY = "week-n-day"


class TargetChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: VirtualObject) -> str:
        return f"{obj} — {services.kind_of(obj.object_type)}"


def _targets_field() -> TargetChoice:
    return TargetChoice(
        queryset=VirtualObject.objects.filter(object_type__in=POINT_TYPES)
        .select_related("device")
        .order_by("object_type", "instance"),
        required=False,
        label="Writes (device 8888's objects of the schedule's kind)",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )


def _priority_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1,
        max_value=PRIORITY_LEVELS,
        initial=Schedule._meta.get_field("priority_for_writing").get_default(),
        label="Priority for writing",
    )


class ScheduleSettingsForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    priority_for_writing = _priority_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["targets"] = _targets_field()

    @classmethod
    def of(cls, row: Schedule) -> ScheduleSettingsForm:
        return cls(
            initial={
                "name": row.name,
                "description": row.description,
                "priority_for_writing": row.priority_for_writing,
                "targets": [t.pk for t in row.targets.all()],
            }
        )

    def settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "priority_for_writing": data["priority_for_writing"],
            "targets": list(data["targets"]),
        }


class ScheduleCreateForm(forms.Form):
    instance = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_INSTANCE, help_text="Empty: the next free one."
    )
    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(choices=Schedule.KIND_CHOICES)
    priority_for_writing = _priority_field()
    schedule_default = forms.CharField(
        required=False,
        max_length=100,
        label="Default value",
        help_text="Written when no entry is in force: a number (analog), active/inactive "
        "(binary), a state number (multi-state); empty relinquishes.",
    )

    def __init__(self, *args: Any, next_instance: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["targets"] = _targets_field()
        if next_instance is not None:
            self.fields["instance"].widget.attrs["placeholder"] = str(next_instance)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, text = data.get("kind"), data.get("schedule_default", "")
        if kind:
            try:
                data["schedule_default"] = typed_value(kind, text)
            except ValueError:
                self.add_error("schedule_default", f"{text!r} is not a {kind} value")
        return data

    def fields_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data["instance"] is None:
            data.pop("instance")
        return data


class CalendarForm(forms.Form):
    instance = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_INSTANCE, help_text="Empty: the next free one."
    )
    name = forms.CharField(max_length=255)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    date_list = forms.CharField(
        required=False,
        label="Dates",
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=DATES_HELP,
    )

    @classmethod
    def of(cls, row: Calendar) -> CalendarForm:
        form = cls(
            initial={
                "instance": row.instance,
                "name": row.name,
                "description": row.description,
                "date_list": "\n".join(line_of(entry) for entry in row.date_list),
            }
        )
        form.fields["instance"].disabled = True
        return form

    def clean_date_list(self) -> list[dict[str, Any]]:
        lines = self.cleaned_data["date_list"].splitlines()
        entries = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entries.append(entry_of(line.strip()))
            except InvalidValueError as exc:
                raise forms.ValidationError(f"line {number}, {line.strip()!r}: {exc}") from exc
        return entries


# ---- a date-list entry as a line and back ------------------------------------------------------


def entry_of(line: str) -> dict[str, Any]:
    """One typed line as a codec entry, checked by the codec (InvalidValueError says why)."""
    if line.startswith(WEEK_N_DAY):
        parts = line[len(WEEK_N_DAY) :].split()
        if len(parts) != 3:
            raise InvalidValueError("week-n-day takes MONTH WEEK WEEKDAY")
        month, week, weekday = (_number(part) for part in parts)
        entry: dict[str, Any] = {"week_n_day": {"month": month, "week": week, "weekday": weekday}}
    elif ".." in line:
        start, end = (part.strip() or None for part in line.split("..", 1))
        entry = {"range": {"start": start, "end": end}}
    else:
        entry = {"date": _pattern(line)}
    schedule_codec.entry_from_json(entry)
    return entry


def _number(text: str) -> int | None:
    if text == "*":
        return None
    if not text.isdecimal():
        raise InvalidValueError(f"{text!r} is not a number or *")
    return int(text)


def _pattern(text: str) -> dict[str, int | None]:
    words = text.split()
    parts = words[0].split("-")
    if len(parts) != 3 or len(words) > 2:
        raise InvalidValueError("a date is YYYY-MM-DD (* for any part), a weekday after it")
    year, month, day = (_number(part) for part in parts)
    if year is not None and month is not None and day is not None and month <= 12 and day <= 31:
        try:
            date(year, month, day)
        except ValueError as exc:
            raise InvalidValueError(f"there is no date {words[0]}") from exc
    weekday = _number(words[1]) if len(words) == 2 else None
    return {"year": year, "month": month, "day": day, "weekday": weekday}


def line_of(entry: dict[str, Any]) -> str:
    """A stored entry as the line that types it (entry_of reads it back the same)."""
    if "range" in entry:
        body = entry["range"]
        return f"{body['start'] or ''}..{body['end'] or ''}"
    if "week_n_day" in entry:
        body = entry["week_n_day"]
        return " ".join([WEEK_N_DAY, *(_star(body[k]) for k in ("month", "week", "weekday"))])
    body = entry["date"]
    line = f"{_star(body['year'], 4)}-{_star(body['month'], 2)}-{_star(body['day'], 2)}"
    return line if body.get("weekday") is None else f"{line} {body['weekday']}"


def _star(value: int | None, width: int = 1) -> str:
    return "*" if value is None else str(value).zfill(width)
