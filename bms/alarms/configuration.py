"""BMS alarm rules and notifiers, created, edited and deleted by a person: what the pages and
the API share.

A rule is checked as the worker will evaluate it (bms.bacnet.alarm_rules: its kind, limits,
delays and the point types it can watch, the values by bms.bacnet.commanding); a notifier as
it will send (bms.alarms.notifiers.check_notifier). A refusal is AlarmConfigError with a
sentence to act on (Conflict for a taken name), and nothing is stored. Every change is audited
in ConfigAudit (who: the request being served, bms.devices.config_audit), a notifier's secret
never in clear. Every rule change bumps the rules' revision in its transaction
(`rule_revision`): the worker reads that one row each second and reloads the rules when it moved.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from bms.alarms.models import AlarmNotifier, AlarmRule, AlarmRuleRevision
from bms.alarms.notifiers import check_notifier
from bms.alarms.rules import close_rule_alarm
from bms.bacnet.alarm_rules import RuleError, check_rule
from bms.bacnet.commanding import checked_instance
from bms.bacnet.errors import InvalidValueError
from bms.devices import config_audit
from bms.devices.models import BACnetPoint

RULE_FIELDS = (
    "kind",
    "high",
    "low",
    "deadband",
    "delay_seconds",
    "stale_seconds",
    "alarm_value",
    "priority",
    "notification_class",
    "message",
    "enabled",
)
NOTIFIER_FIELDS = (
    "name",
    "kind",
    "target",
    "secret",
    "min_priority",
    "max_priority",
    "notification_class",
    "enabled",
)
REVISION_ROW = 1  # AlarmRuleRevision has this one row
MASKED = "(set)"  # how the audit shows a notifier's secret: never in clear


class AlarmConfigError(ValueError):
    """A rule or notifier that cannot work as given (the message says what to fix)."""


class Conflict(AlarmConfigError):
    """Clashes with what is stored (a notifier's name is taken)."""


# ---- rules ---------------------------------------------------------------------------------


def create_rule(point: BACnetPoint, **fields: Any) -> AlarmRule:
    _refuse_unknown(fields, RULE_FIELDS, "an alarm rule")
    rule = AlarmRule(point=point, **fields)
    with transaction.atomic():
        _checked_rule(rule).save()
        _bump_rule_revision()
        config_audit.record("alarm_rule_created", _rule_target(rule), after=_rule_fields(rule))
    return rule


def update_rule(rule: AlarmRule, **changes: Any) -> AlarmRule:
    """Change the rule's fields (not its point: a rule on another point is another rule)."""
    _refuse_unknown(changes, RULE_FIELDS, "an alarm rule")
    before = _rule_fields(rule)
    for field, value in changes.items():
        setattr(rule, field, value)
    _checked_rule(rule)
    after = _rule_fields(rule)
    changed = [name for name in after if before[name] != after[name]]
    with transaction.atomic():
        # The UPDATE locks the rule row before close_rule_alarm locks the alarm row: the order
        # the worker's record_rule_transition takes them in, so the two cannot deadlock, and a
        # transition the worker made meanwhile waits for this commit and then stores nothing.
        rule.save()
        if before["enabled"] and not rule.enabled:
            close_rule_alarm(rule, "rule disabled")
        if changed:
            _bump_rule_revision()
            config_audit.record(
                "alarm_rule_changed",
                _rule_target(rule),
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )
    return rule


def delete_rule(rule: AlarmRule) -> None:
    """Delete the rule; its alarm (returned to normal if active) and the alarm's history stay
    (who acknowledged what)."""
    with transaction.atomic():
        close_rule_alarm(rule, "rule deleted")  # locks the rule row, then the alarm row
        config_audit.record("alarm_rule_deleted", _rule_target(rule), before=_rule_fields(rule))
        rule.delete()
        _bump_rule_revision()


def rule_revision() -> int:
    """The rules' revision (0 before the first change): one row, read by the worker each
    second."""
    revision = AlarmRuleRevision.objects.filter(pk=REVISION_ROW).values_list("revision", flat=True)
    return next(iter(revision), 0)


def _bump_rule_revision() -> None:
    """Call it in the transaction of the change it announces. The UPDATE locks the row until
    that transaction ends, so revisions commit in order: once the worker reads revision n,
    every change that bumped it to n or lower is committed and visible to it."""
    rows = AlarmRuleRevision.objects.filter(pk=REVISION_ROW)
    if rows.update(revision=F("revision") + 1):
        return
    try:
        with transaction.atomic():
            AlarmRuleRevision.objects.create(pk=REVISION_ROW, revision=1)
    except IntegrityError:  # created meanwhile by another change
        rows.update(revision=F("revision") + 1)


def _checked_rule(rule: AlarmRule) -> AlarmRule:
    try:
        spec = check_rule(rule.spec(), rule.point.object_type, rule.priority)
        checked_instance(rule.notification_class, "notification_class")
    except (RuleError, TypeError, InvalidValueError) as exc:  # TypeError: a value's wrong type
        raise AlarmConfigError(str(exc)) from exc
    rule.high, rule.low, rule.deadband = spec.high, spec.low, spec.deadband
    rule.alarm_value = spec.alarm_value
    _check_lengths(rule, ("alarm_value", "message"))
    return rule


def _rule_fields(rule: AlarmRule) -> dict[str, Any]:
    return {"point_id": rule.point_id, **{name: getattr(rule, name) for name in RULE_FIELDS}}


def _rule_target(rule: AlarmRule) -> str:
    point = rule.point
    return f"alarm rule {rule.pk} {rule.kind} on {point.device.device_instance} {point}"


# ---- notifiers -----------------------------------------------------------------------------


def create_notifier(**fields: Any) -> AlarmNotifier:
    _refuse_unknown(fields, NOTIFIER_FIELDS, "a notifier")
    notifier = AlarmNotifier(**fields)
    with transaction.atomic():
        _saved_notifier(notifier)
        config_audit.record(
            "alarm_notifier_created", _notifier_target(notifier), after=_notifier_fields(notifier)
        )
    return notifier


def update_notifier(notifier: AlarmNotifier, **changes: Any) -> AlarmNotifier:
    _refuse_unknown(changes, NOTIFIER_FIELDS, "a notifier")
    before = _notifier_fields(notifier)
    old_secret = notifier.secret
    for field, value in changes.items():
        setattr(notifier, field, value)
    after = _notifier_fields(notifier)
    changed = [name for name in after if name != "secret" and before[name] != after[name]]
    if notifier.secret != old_secret:  # said, never shown
        changed.append("secret")
        before["secret"] = "(old)" if old_secret else ""
        after["secret"] = "(new)" if notifier.secret else ""
    with transaction.atomic():
        _saved_notifier(notifier)
        if changed:
            config_audit.record(
                "alarm_notifier_changed",
                _notifier_target(notifier),
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )
    return notifier


def delete_notifier(notifier: AlarmNotifier) -> None:
    with transaction.atomic():
        config_audit.record(
            "alarm_notifier_deleted", _notifier_target(notifier), before=_notifier_fields(notifier)
        )
        notifier.delete()


def _saved_notifier(notifier: AlarmNotifier) -> None:
    try:
        check_notifier(notifier)
        if notifier.notification_class is not None:
            checked_instance(notifier.notification_class, "notification_class")
    except (ValueError, TypeError, InvalidValueError) as exc:
        raise AlarmConfigError(str(exc)) from exc
    if not notifier.name.strip():
        raise AlarmConfigError("a notifier needs a name")
    _check_lengths(notifier, ("name", "target", "secret"))
    try:
        with transaction.atomic():
            notifier.save()
    except IntegrityError as exc:
        raise Conflict(f"a notifier named {notifier.name!r} exists") from exc


def _notifier_fields(notifier: AlarmNotifier) -> dict[str, Any]:
    fields = {name: getattr(notifier, name) for name in NOTIFIER_FIELDS}
    fields["secret"] = MASKED if notifier.secret else ""
    return fields


def _notifier_target(notifier: AlarmNotifier) -> str:
    return f"alarm notifier {notifier.name} ({notifier.kind})"


def _check_lengths(row: Any, names: tuple[str, ...]) -> None:
    """The model's max_length, said before PostgreSQL refuses (SQLite would store it)."""
    for name in names:
        longest = row._meta.get_field(name).max_length
        if len(getattr(row, name)) > longest:
            raise AlarmConfigError(f"{name}: at most {longest} characters")


def _refuse_unknown(fields: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = set(fields) - set(known)
    if unknown:
        raise AlarmConfigError(f"{what} has no {', '.join(sorted(unknown))}")
