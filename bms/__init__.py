"""BMS: a building-management application for BACnet/IP networks."""
