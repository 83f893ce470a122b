"""What the worker monitors on a device or a point, changed from their pages (operators)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from bms.devices import monitoring
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.web.forms import first_error
from bms.web.monitoring_forms import MonitoringForm
from bms.web.views.common import done, operator_action, refused


@operator_action
def device_monitoring(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    back = reverse("web:device", args=[pk])
    form = MonitoringForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    try:
        monitoring.set_device_monitoring(device, **form.settings())
    except monitoring.MonitoringError as exc:
        return refused(request, str(exc), back)
    return done(request, f"Monitoring of device {device.device_instance} saved", back)


@operator_action
def point_monitoring(request: HttpRequest, pk: int) -> HttpResponse:
    point = get_object_or_404(BACnetPoint.objects.select_related("device"), pk=pk)
    back = reverse("web:point", args=[pk])
    form = MonitoringForm(request.POST)
    if not form.is_valid():
        return refused(request, first_error(form), back)
    try:
        monitoring.set_point_monitoring(point, **form.settings())
    except monitoring.MonitoringError as exc:
        return refused(request, str(exc), back)
    return done(request, f"Monitoring of {point.object_type},{point.instance} saved", back)


@operator_action
def device_forget_cov_refusals(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    monitoring.forget_cov_refusals(device)
    return done(
        request,
        f"Device {device.device_instance}: COV will be tried again",
        reverse("web:device", args=[pk]),
    )
