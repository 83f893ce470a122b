"""BMS alarm rules and alarm notifiers, edited in pages through the same service as the API
(bms.alarms.configuration): its refusal is shown above the form, with nothing stored.

Rules are read by everyone signed in and changed by operators. Notifiers send alarms out of
the building and hold a signing secret: their pages are for admins only, the secret is never
shown again (left empty on edit, it is kept). An operator can also have the BMS enrolled at a
remote device's notification class (a task, from the device page).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bms.accounts.roles import ADMIN, can_operate, has_role
from bms.alarms import configuration as config
from bms.alarms.models import Alarm, AlarmNotifier, AlarmRule
from bms.bacnet.commanding import MAX_INSTANCE
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.tasks import submission
from bms.web.alarm_forms import AlarmNotifierForm, AlarmRuleForm
from bms.web.views.common import done, operator_action, refused

PAGE_SIZE = 100  # rules a page lists

# ---- rules ---------------------------------------------------------------------------------


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    """/alarms/rules/?point=<id> lists that point's rules and fills it in the new rule's form."""
    point = request.GET.get("point", "")
    form = AlarmRuleForm(initial={"point": point} if point.isdigit() else {})
    return _rules_page(request, form, point if point.isdigit() else "")


@operator_action
def rule_create(request: HttpRequest) -> HttpResponse:
    form = AlarmRuleForm(request.POST)
    if form.is_valid():
        point = BACnetPoint.objects.filter(pk=form.cleaned_data["point"]).first()
        if point is None:
            form.add_error("point", f"There is no point {form.cleaned_data['point']}.")
        else:
            try:
                rule = config.create_rule(point, **form.fields_for_service())
            except config.AlarmConfigError as exc:
                form.add_error(None, str(exc))
            else:
                return done(request, f"Created alarm rule {rule.pk}.", _rules())
    return _rules_page(request, form, status=400)


@login_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(AlarmRule.objects.select_related("point__device"), pk=pk)
    if request.method != "POST":
        return _rule_page(request, rule, AlarmRuleForm.of(rule))
    if not can_operate(request.user):
        raise PermissionDenied("This needs the operator role; your account can only read.")
    form = AlarmRuleForm({**request.POST.dict(), "point": str(rule.point_id)})
    if form.is_valid():
        try:
            config.update_rule(rule, **form.fields_for_service())
        except config.AlarmConfigError as exc:
            form.add_error(None, str(exc))
        else:
            return done(request, f"Saved alarm rule {rule.pk}.", _rules())
        rule.refresh_from_db()  # the page shows the rule as stored
    form.fields["point"].disabled = True
    return _rule_page(request, rule, form, status=400)


@operator_action
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(AlarmRule.objects.select_related("point__device"), pk=pk)
    config.delete_rule(rule)
    return done(request, f"Deleted alarm rule {pk}; its alarm's history stays.", _rules())


def _rules_page(
    request: HttpRequest, form: AlarmRuleForm, point: str = "", status: int = 200
) -> HttpResponse:
    rules = AlarmRule.objects.select_related("point__device").order_by("id")
    if point:
        rules = rules.filter(point_id=int(point))
    shown = Paginator(rules, PAGE_SIZE).get_page(request.GET.get("page"))
    alarms = Alarm.objects.filter(rule__in=[rule.rule_name for rule in shown])
    by_name = {alarm.rule: alarm for alarm in alarms}
    for rule in shown:
        rule.alarm = by_name.get(rule.rule_name)  # type: ignore[attr-defined]  # for the page
    context = {"rules": shown, "form": form, "point_filter": point}
    return render(request, "web/alarm_rules.html", context, status=status)


def _rule_page(
    request: HttpRequest, rule: AlarmRule, form: AlarmRuleForm, status: int = 200
) -> HttpResponse:
    return render(request, "web/alarm_rule.html", {"rule": rule, "form": form}, status=status)


def _rules() -> str:
    return reverse("web:alarm_rules")


# ---- notifiers -----------------------------------------------------------------------------


def _admin_only(request: HttpRequest) -> None:
    if not has_role(request.user, ADMIN):
        raise PermissionDenied("Alarm notifiers need the admin role.")


@login_required
def notifier_list(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    return _notifiers_page(request, AlarmNotifierForm())


@login_required
@require_POST
def notifier_create(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    form = AlarmNotifierForm(request.POST)
    notifier = _saved(form, config.create_notifier)
    if notifier is not None:
        return done(request, f"Created notifier {notifier.name}.", _notifiers())
    return _notifiers_page(request, form, status=400)


@login_required
def notifier_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _admin_only(request)
    notifier = get_object_or_404(AlarmNotifier, pk=pk)
    if request.method != "POST":
        return _notifier_page(request, notifier, AlarmNotifierForm.of(notifier))
    form = AlarmNotifierForm(request.POST)
    if _saved(form, config.update_notifier, notifier) is not None:
        return done(request, f"Saved notifier {notifier.name}.", _notifiers())
    notifier.refresh_from_db()
    return _notifier_page(request, notifier, form, status=400)


@login_required
@require_POST
def notifier_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _admin_only(request)
    notifier = get_object_or_404(AlarmNotifier, pk=pk)
    config.delete_notifier(notifier)
    return done(request, f"Deleted notifier {notifier.name}.", _notifiers())


def _saved(form: AlarmNotifierForm, change: Any, *row: AlarmNotifier) -> AlarmNotifier | None:
    """The notifier the service stored, or None with its refusal on the form."""
    if not form.is_valid():
        return None
    try:
        return change(*row, **form.fields_for_service(editing=bool(row)))  # type: ignore[no-any-return]
    except config.AlarmConfigError as exc:
        form.add_error(None, str(exc))
        return None


def _notifiers_page(
    request: HttpRequest, form: AlarmNotifierForm, status: int = 200
) -> HttpResponse:
    context = {"notifiers": AlarmNotifier.objects.all(), "form": form}
    return render(request, "web/alarm_notifiers.html", context, status=status)


def _notifier_page(
    request: HttpRequest, notifier: AlarmNotifier, form: AlarmNotifierForm, status: int = 200
) -> HttpResponse:
    context = {"notifier": notifier, "form": form}
    return render(request, "web/alarm_notifier.html", context, status=status)


def _notifiers() -> str:
    return reverse("web:alarm_notifiers")


# ---- enrolment at a remote device ----------------------------------------------------------


@operator_action
def enroll(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(BACnetDevice, pk=pk)
    back = reverse("web:device", args=[pk])
    text = request.POST.get("notification_class", "").strip()
    if not text.isdigit() or int(text) > MAX_INSTANCE:
        return refused(request, f"A notification class is a number 0..{MAX_INSTANCE}.", back)
    user = request.user.get_username()
    try:
        task = submission.enroll_alarms(device, int(text), user=user)
    except submission.Refused as exc:
        return refused(request, str(exc), back)
    message = f"Enrolment at notification class {text} queued (task {task.id})"
    return done(request, message, back, task_id=task.id)
