"""Devices, points and their readings as seen on the BACnet network, and the write audit."""
