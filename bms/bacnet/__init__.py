"""The BACnet core: a Django-free engine over bacpypes3.

Everything outside this package talks to BACnet through `bms.bacnet.engine.Engine` and the
dataclasses in `bms.bacnet.types`; bacpypes3 types never leak past this package.
"""
