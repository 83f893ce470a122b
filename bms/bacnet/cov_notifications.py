"""A received COV notification as our CovNotification: from the fields read straight from its
octets (bms.bacnet.cov_decode) or, for anything read by bacpypes3, from its parameters."""

from __future__ import annotations

import logging
from typing import Any

from bms.bacnet import cov_decode
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import CovNotification, ObjectRef
from bms.bacnet.values import property_datatype, to_python

log = logging.getLogger(__name__)


def cov_notification(apdu: Any, ref: ObjectRef, confirmed: bool) -> CovNotification:
    fields = cov_decode.fast_fields(apdu)
    if fields is not None:
        return notification_from_fields(str(apdu.pduSource), fields, ref, confirmed)
    values: dict[str, Any] = {}
    for element in apdu.listOfValues:
        property = str(element.propertyIdentifier)
        try:
            datatype = property_datatype(ref.object_type, property, element.propertyArrayIndex)
        except InvalidValueError:
            log.debug("COV %s: skipping %s, a property we can't decode", ref, property)
            continue
        values[property] = to_python(element.value.cast_out(datatype))
    return CovNotification(
        device_address=str(apdu.pduSource),
        device_instance=int(apdu.initiatingDeviceIdentifier[1]),
        ref=ref,
        values=values,
        time_remaining=int(apdu.timeRemaining),
        confirmed=confirmed,
    )


def notification_from_fields(
    device_address: str, fields: cov_decode.CovFields, ref: ObjectRef, confirmed: bool
) -> CovNotification:
    return CovNotification(
        device_address=device_address,
        device_instance=fields.device_instance,
        ref=ref,
        values=dict(fields.values),
        time_remaining=fields.time_remaining,
        confirmed=confirmed,
    )
