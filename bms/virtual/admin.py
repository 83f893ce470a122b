from django.contrib import admin

from bms.virtual.models import VirtualBACnetDevice, VirtualObject


class VirtualObjectInline(admin.TabularInline):
    model = VirtualObject
    extra = 0
    fields = ["object_type", "instance", "name", "present_value", "out_of_service"]


@admin.register(VirtualBACnetDevice)
class VirtualBACnetDeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "device_name", "template", "is_running", "last_external_write"]
    list_filter = ["template", "is_running"]
    inlines = [VirtualObjectInline]


@admin.register(VirtualObject)
class VirtualObjectAdmin(admin.ModelAdmin):
    list_display = ["object_type", "instance", "name", "device", "present_value", "out_of_service"]
    list_filter = ["object_type", "device"]
    list_select_related = ["device"]
