"""Virtual objects named as a schedule's targets by the API: by id or as "type,instance"."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from bms.schedules.records import ScheduleError, UnknownObject
from bms.virtual.models import VirtualObject

__all__ = ["resolve_targets"]


def resolve_targets(refs: Iterable[int | str]) -> list[VirtualObject]:
    """Virtual objects named by id or as "type,instance" (what the API shows), in order;
    UnknownObject for one that does not exist. Two queries, whatever the number of refs."""
    refs = list(refs)
    keys: dict[int | str, int | tuple[str, int]] = {ref: _target_key(ref) for ref in refs}
    ids = [key for key in keys.values() if isinstance(key, int)]
    pairs = [key for key in keys.values() if isinstance(key, tuple)]
    by_key: dict[int | tuple[str, int], VirtualObject] = (
        {row.pk: row for row in VirtualObject.objects.filter(pk__in=ids)} if ids else {}
    )
    if pairs:
        named = Q()
        for object_type, instance in pairs:
            named |= Q(object_type=object_type, instance=instance)
        by_key.update(
            {(row.object_type, row.instance): row for row in VirtualObject.objects.filter(named)}
        )
    missing = [ref for ref in refs if keys[ref] not in by_key]
    if missing:
        raise UnknownObject(f"there is no virtual object {missing[0]}")
    return [by_key[keys[ref]] for ref in refs]


def _target_key(ref: int | str) -> int | tuple[str, int]:
    if isinstance(ref, int):
        return ref
    object_type, _, instance = ref.strip().partition(",")
    if not instance.strip().isdigit():
        raise ScheduleError(f"target {ref!r} is not a virtual object id or 'type,instance'")
    return object_type.strip(), int(instance)
