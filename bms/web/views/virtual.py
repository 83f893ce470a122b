"""Virtual devices: list, create from a template, edit, delete, start and stop, and the live
objects page where operators command objects and external BACnet writes appear with the
writer's address."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bms.accounts.roles import can_operate
from bms.devices.models import WriteAudit
from bms.devices.services import default_write_priority
from bms.realtime import groups
from bms.virtual import commands, services
from bms.virtual.models import VirtualBACnetDevice, VirtualObject
from bms.virtual.templates import UnknownTemplate
from bms.web.forms import (
    VirtualCommandForm,
    VirtualDeviceEditForm,
    VirtualDeviceForm,
    first_error,
)
from bms.web.templatetags.bms import value_text
from bms.web.views import trends
from bms.web.views.common import done, operator_action, refused

RECENT_WRITES = 20


@login_required
def virtual_list(request: HttpRequest) -> HttpResponse:
    devices = VirtualBACnetDevice.objects.prefetch_related("virtual_objects")
    return render(
        request,
        "web/virtual_list.html",
        {
            "devices": devices,
            "live_groups": "virtual_devices",
        },
    )


@login_required
def virtual_create(request: HttpRequest) -> HttpResponse:
    if not can_operate(request.user):
        return render(
            request,
            "web/refused.html",
            {
                "message": "Creating virtual devices needs the operator role.",
                "back": reverse("web:virtual_list"),
            },
            status=403,
        )
    form = VirtualDeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            device = services.create_virtual_device(
                data["device_id"], data["device_name"], data["description"], data["template"]
            )
        except (services.VirtualDeviceError, UnknownTemplate) as exc:
            form.add_error(None, str(exc))
        else:
            return done(
                request,
                f"Virtual device {device.device_id} created",
                reverse("web:virtual", args=[device.device_id]),
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "web/virtual_form.html", {"form": form, "creating": True}, status=status)


@login_required
def virtual_detail(request: HttpRequest, device_id: int) -> HttpResponse:
    device = get_object_or_404(VirtualBACnetDevice, device_id=device_id)
    writes = WriteAudit.objects.filter(virtual_object__device=device, source="bacnet")
    return render(
        request,
        "web/virtual_detail.html",
        {
            "device": device,
            "objects": device.virtual_objects.all(),
            "writes": writes.select_related("virtual_object")[:RECENT_WRITES],
            "default_priority": default_write_priority(),
            # Refused external writes reach the page as audit messages (they change nothing).
            "live_groups": f"{groups.VIRTUAL_DEVICES},{groups.AUDIT}",
        },
    )


@login_required
def virtual_object(request: HttpRequest, pk: int) -> HttpResponse:
    """One object: its present value and the trend of the values writes and commands left."""
    obj = get_object_or_404(VirtualObject.objects.select_related("device"), pk=pk)
    return render(
        request,
        "web/virtual_object.html",
        {
            "obj": obj,
            "live_groups": "virtual_devices",
            "trend_choices": trends.virtual_object_choices(obj),
        },
    )


@login_required
def virtual_edit(request: HttpRequest, device_id: int) -> HttpResponse:
    device = get_object_or_404(VirtualBACnetDevice, device_id=device_id)
    if not can_operate(request.user):
        return render(
            request,
            "web/refused.html",
            {
                "message": "Editing virtual devices needs the operator role.",
                "back": reverse("web:virtual", args=[device_id]),
            },
            status=403,
        )
    initial = {"device_name": device.device_name, "description": device.description}
    form = VirtualDeviceEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.update_virtual_device(device, **form.cleaned_data)
        return done(request, "Saved", reverse("web:virtual", args=[device_id]))
    status = 400 if request.method == "POST" else 200
    return render(request, "web/virtual_form.html", {"form": form, "device": device}, status=status)


@operator_action
def virtual_delete(request: HttpRequest, device_id: int) -> HttpResponse:
    device = get_object_or_404(VirtualBACnetDevice, device_id=device_id)
    services.delete_virtual_device(device.device_id)
    return done(request, f"Virtual device {device_id} deleted", reverse("web:virtual_list"))


@operator_action
def virtual_start(request: HttpRequest, device_id: int) -> HttpResponse:
    return _set_running(request, device_id, True)


@operator_action
def virtual_stop(request: HttpRequest, device_id: int) -> HttpResponse:
    return _set_running(request, device_id, False)


def _set_running(request: HttpRequest, device_id: int, running: bool) -> HttpResponse:
    device = get_object_or_404(VirtualBACnetDevice, device_id=device_id)
    services.update_virtual_device(device, is_running=running)
    state = "started" if running else "stopped"
    return done(
        request,
        f"Virtual device {device_id} {state}",
        request.POST.get("next") or reverse("web:virtual", args=[device_id]),
        is_running=running,
    )


@operator_action
def virtual_command(request: HttpRequest, pk: int) -> HttpResponse:
    """Command one object (a value at a priority, or relinquish it); the worker applies the row
    to the live BACnet object within its sync interval, and open pages update when it commits."""
    obj = get_object_or_404(VirtualObject.objects.select_related("device"), pk=pk)
    back = reverse("web:virtual", args=[obj.device.device_id])
    form = VirtualCommandForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    data = form.cleaned_data
    relinquish = data["relinquish"]
    try:
        obj = commands.command_virtual_object(
            obj,
            None if relinquish else data["value"],
            data["priority"],
            relinquish,
            user=request.user.get_username(),
            source="operator",
        )
    except services.VirtualDeviceError as exc:
        return refused(request, str(exc), back)
    now = value_text(obj.present_value, obj.object_type, obj.state_texts)
    level = data["priority"] or default_write_priority()
    if not obj.commandable:
        message = f"{obj.name} set to {now}"
    elif relinquish:
        message = f"{obj.name}: priority {level} relinquished, now {now}"
    else:
        message = f"{obj.name}: commanded at priority {level}, now {now}"
    return done(
        request, message, back, present_value=obj.present_value, priority_array=obj.priority_array
    )
