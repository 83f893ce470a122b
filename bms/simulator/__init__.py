"""A simulated building of plain bacpypes3 devices on loopback (`python -m bms.simulator`)."""

from bms.simulator.building import SimulatedBuilding, SimulatedDevice

__all__ = ["SimulatedBuilding", "SimulatedDevice"]
