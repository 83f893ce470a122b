"""Virtual devices: groups of objects that the BMS itself serves as BACnet device 8888."""
