"""bacpypes3 Application subclasses that behave like the awkward devices found on real sites.

- bacpypes3 0.0.108 only checks a response against the *client's* max APDU: a device that cannot
  segment and says it accepts 480 octets still sends a 1,000-octet reply to a client that accepts
  1,476. `SimulatedApplication` also enforces the device's own limit, answering with the Abort
  (segmentation-not-supported) a real small controller sends, so clients must fall back to
  reading arrays index by index.
- `NoRpmApplication` answers ReadPropertyMultiple with Reject (unrecognized-service) and leaves it
  out of protocol-services-supported, like controllers that only do ReadProperty.
"""

from __future__ import annotations

from typing import Any

from bacpypes3.apdu import AbortPDU, AbortReason, ComplexAckPDU
from bacpypes3.app import Application
from bacpypes3.basetypes import Segmentation, ServicesSupported
from bacpypes3.errors import UnrecognizedService

from bms.bacnet.trendlog_services import TrendLogServices

# Type, invoke ID and service choice precede the data of an unsegmented Complex-ACK.
COMPLEX_ACK_HEADER_OCTETS = 3
SEGMENTED_TRANSMIT = (Segmentation.segmentedTransmit, Segmentation.segmentedBoth)


class SimulatedApplication(TrendLogServices, Application):  # type: ignore[misc]
    """An Application that never sends a reply longer than its own max APDU unsegmented (and
    serves ReadRange of its trend logs)."""

    async def response(self, apdu: Any) -> None:  # type: ignore[override]
        if isinstance(apdu, ComplexAckPDU) and self._too_long_to_send(apdu):
            apdu = _segmentation_abort(apdu)
        await super().response(apdu)

    def _too_long_to_send(self, apdu: Any) -> bool:
        device = self.device_object
        if device is None or device.segmentationSupported in SEGMENTED_TRANSMIT:
            return False
        length = COMPLEX_ACK_HEADER_OCTETS + len(apdu.encode().pduData)
        return bool(length > device.maxApduLengthAccepted)


class NoRpmApplication(SimulatedApplication):
    """A device that knows ReadProperty but not ReadPropertyMultiple."""

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:
        # Application.indication turns this into Reject(unrecognized-service).
        raise UnrecognizedService("ReadPropertyMultiple is not supported by this device")

    def get_services_supported(self) -> ServicesSupported:
        services = super().get_services_supported()
        services[ServicesSupported.readPropertyMultiple] = 0
        return services


def _segmentation_abort(ack: Any) -> AbortPDU:
    abort = AbortPDU(True, ack.apduInvokeID, AbortReason.segmentationNotSupported)
    abort.pduDestination = ack.pduDestination
    abort.pduUserData = ack.pduUserData
    return abort
