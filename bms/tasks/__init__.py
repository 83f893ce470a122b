"""BACnet tasks: the queue between the web process and the BACnet worker (seed 000)."""
