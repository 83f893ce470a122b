"""Alarm configuration pages: device 8888's notification classes (priorities, ack-required,
recipients) and a virtual object's alarm settings, through the same services as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.accounts.roles import can_operate
from bms.virtual import notification_classes as classes
from bms.virtual import services
from bms.virtual.models import NotificationClass, VirtualObject
from bms.virtual.services import VirtualDeviceError
from bms.web.alarm_forms import AlarmSettingsForm, NotificationClassForm
from bms.web.views.common import done, operator_action, refused


@login_required
def class_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/notification_classes.html",
        {"classes": NotificationClass.objects.all(), "form": NotificationClassForm()},
    )


@operator_action
def class_create(request: HttpRequest) -> HttpResponse:
    form = NotificationClassForm(request.POST)
    if form.is_valid():
        try:
            row = classes.create_notification_class(
                form.cleaned_data["instance"], **form.fields_for_service()
            )
        except VirtualDeviceError as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, f"Created notification class {row.instance}.", _list())
    return render(
        request,
        "web/notification_classes.html",
        {"classes": NotificationClass.objects.all(), "form": form},
        status=400,
    )


@login_required
def class_edit(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(NotificationClass, instance=instance)
    if request.method != "POST":
        return _class_page(request, row, NotificationClassForm.of(row))
    _refuse_viewers(request)
    form = NotificationClassForm(request.POST)
    if form.is_valid():
        try:
            classes.update_notification_class(row, **form.fields_for_service())
        except VirtualDeviceError as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, f"Saved notification class {row.instance}.", _list())
    return _class_page(request, row, form, status=400)


def _refuse_viewers(request: HttpRequest) -> None:
    """The edit pages are read by everyone; saving needs the operator role (as operator_action)."""
    if not can_operate(request.user):
        raise PermissionDenied("This needs the operator role; your account can only read.")


@operator_action
def class_delete(request: HttpRequest, instance: int) -> HttpResponse:
    row = get_object_or_404(NotificationClass, instance=instance)
    try:
        classes.delete_notification_class(row)
    except VirtualDeviceError as exc:
        return refused(request, str(exc), _list())
    return done(request, f"Deleted notification class {instance}.", _list())


def _class_page(
    request: HttpRequest, row: NotificationClass, form: NotificationClassForm, status: int = 200
) -> HttpResponse:
    form.fields["instance"].disabled = True
    return render(request, "web/notification_class.html", {"row": row, "form": form}, status=status)


def _list() -> str:
    return reverse("web:notification_classes")


@login_required
def object_alarm(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(VirtualObject.objects.select_related("device"), pk=pk)
    if request.method != "POST":
        return _alarm_page(request, obj, AlarmSettingsForm.of(obj))
    _refuse_viewers(request)
    form = AlarmSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_virtual_object(obj, **form.changes(obj))
        except VirtualDeviceError as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, f"Saved the alarm settings of {obj.name}.", request.path)
    return _alarm_page(request, obj, form, status=400)


def _alarm_page(
    request: HttpRequest, obj: VirtualObject, form: AlarmSettingsForm, status: int = 200
) -> HttpResponse:
    return render(request, "web/object_alarm.html", {"obj": obj, "form": form}, status=status)
