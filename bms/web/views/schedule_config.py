"""Device 8888's schedules and calendars made, renamed, re-targeted and deleted (operators),
through bms.schedules.services as the API does; the week itself is edited on the schedule's
page (bms.web.views.schedules). What a service refuses is shown on the form, status 400."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.accounts.roles import can_operate
from bms.schedules import services
from bms.schedules.models import Calendar, Schedule
from bms.web.schedule_forms import CalendarForm, ScheduleCreateForm, ScheduleSettingsForm
from bms.web.views.common import done, operator_action, refused
from bms.web.views.schedules import virtual_page

# What the services refuse: their own reasons, and a row the model refuses (a name in use).
REFUSALS = (services.ScheduleError, ValidationError)


def _who(request: HttpRequest) -> dict[str, str]:
    return {"user": _user(request), "source": "operator"}


def _user(request: HttpRequest) -> str:
    return request.user.get_username()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _list_page(
    request: HttpRequest,
    schedule_form: ScheduleCreateForm | None = None,
    calendar_form: CalendarForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "schedules": Schedule.objects.prefetch_related("targets"),
        "calendars": Calendar.objects.all(),
        "schedule_form": schedule_form
        or ScheduleCreateForm(next_instance=services.next_free_instance(Schedule)),
        "calendar_form": calendar_form or _calendar_form(),
        "section": "schedules",
    }
    return render(request, "web/schedules.html", context, status=status)


def _calendar_form() -> CalendarForm:
    form = CalendarForm()
    form.fields["instance"].widget.attrs["placeholder"] = str(services.next_free_instance(Calendar))
    return form


@operator_action
def schedule_create(request: HttpRequest) -> HttpResponse:
    form = ScheduleCreateForm(request.POST)
    if form.is_valid():
        fields = form.fields_for_service()
        try:
            row = services.create_schedule(fields.pop("targets"), **_who(request), **fields)
        except REFUSALS as exc:
            form.add_error(None, _reason(exc))
        else:
            return done(request, f"Created {row}.", reverse("web:schedule", args=[row.instance]))
    form.fields["instance"].widget.attrs["placeholder"] = str(services.next_free_instance(Schedule))
    return _list_page(request, schedule_form=form, status=400)


@operator_action
def schedule_settings(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(Schedule.objects.prefetch_related("targets"), instance=instance)
    form = ScheduleSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_schedule_settings(
                row, user=_user(request), source="operator", **form.settings()
            )
        except REFUSALS as exc:
            form.add_error(None, _reason(exc))
        else:
            return done(request, f"Saved the settings of {row}.", _page(instance))
    row.refresh_from_db()
    return virtual_page(request, row, row.weekly, settings=form, status=400)


@operator_action
def schedule_delete(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(Schedule, instance=instance)
    name, priority = str(row), row.priority_for_writing
    try:
        problems = services.delete_schedule(row, **_who(request))
    except REFUSALS as exc:
        return refused(request, _reason(exc), _page(instance))
    message = f"Deleted {name}; its targets were relinquished at priority {priority}."
    if problems:
        message += " Not relinquished: " + "; ".join(problems)
    return done(request, message, reverse("web:schedules"))


def _page(instance: int) -> str:
    return reverse("web:schedule", args=[instance])


# ---- calendars --------------------------------------------------------------------------------


@operator_action
def calendar_create(request: HttpRequest) -> HttpResponse:
    form = CalendarForm(request.POST)
    if form.is_valid():
        fields = dict(form.cleaned_data)
        if fields["instance"] is None:
            fields.pop("instance")
        try:
            row = services.create_calendar(**_who(request), **fields)
        except REFUSALS as exc:
            form.add_error(None, _reason(exc))
        else:
            return done(request, f"Created {row}.", reverse("web:schedules"))
    return _list_page(request, calendar_form=form, status=400)


@login_required
def calendar_edit(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(Calendar, instance=instance)
    if request.method != "POST":
        return _calendar_page(request, row, CalendarForm.of(row))
    if not can_operate(request.user):
        raise PermissionDenied("This needs the operator role; your account can only read.")
    form = CalendarForm(request.POST)
    form.fields["instance"].disabled = True
    form.initial["instance"] = row.instance
    if form.is_valid():
        changes = {key: form.cleaned_data[key] for key in ("name", "description", "date_list")}
        try:
            services.update_calendar(row, changes, **_who(request))
        except REFUSALS as exc:
            form.add_error(None, _reason(exc))
        else:
            return done(request, f"Saved {row}.", reverse("web:calendar", args=[instance]))
    return _calendar_page(request, row, form, status=400)


def _calendar_page(
    request: HttpRequest, row: Calendar, form: CalendarForm, status: int = 200
) -> HttpResponse:
    context = {"calendar": row, "form": form, "section": "schedules"}
    return render(request, "web/calendar.html", context, status=status)


@operator_action
def calendar_delete(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(Calendar, instance=instance)
    name = str(row)
    try:
        services.delete_calendar(row, **_who(request))
    except REFUSALS as exc:
        return refused(request, _reason(exc), reverse("web:calendar", args=[instance]))
    return done(request, f"Deleted {name}.", reverse("web:schedules"))
