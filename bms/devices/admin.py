from django.contrib import admin

from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading, NetworkScan, WriteAudit


@admin.register(BACnetDevice)
class BACnetDeviceAdmin(admin.ModelAdmin):
    list_display = [
        "device_instance",
        "name",
        "address",
        "vendor_name",
        "online",
        "last_seen",
        "site",
    ]
    list_filter = ["site", "online", "vendor_name"]
    search_fields = ["name", "address", "description", "location"]


@admin.register(BACnetPoint)
class BACnetPointAdmin(admin.ModelAdmin):
    list_display = ["device", "object_type", "instance", "name", "last_value", "last_value_at"]
    list_filter = ["object_type", "commandable"]
    search_fields = ["name", "description"]
    list_select_related = ["device"]


@admin.register(BACnetReading)
class BACnetReadingAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "point", "virtual_object", "value", "source"]
    list_filter = ["source"]
    raw_id_fields = ["point", "virtual_object"]


@admin.register(NetworkScan)
class NetworkScanAdmin(admin.ModelAdmin):
    list_display = ["scan_time", "site", "devices_found", "duration", "task"]
    list_filter = ["site"]


@admin.register(WriteAudit)
class WriteAuditAdmin(admin.ModelAdmin):
    list_display = ["time", "source", "who", "object_ref", "new_value", "priority", "accepted"]
    list_filter = ["source", "accepted"]
    search_fields = ["who", "object_ref", "reason"]
    raw_id_fields = ["point", "virtual_object"]
