from django.contrib import admin

from bms.profiles.models import DeviceProfile, ExpectedPoint, ProfileObject


class ProfileObjectInline(admin.TabularInline):
    model = ProfileObject
    extra = 0
    fields = ["object_type", "instance", "name", "units", "default", "commandable"]


@admin.register(DeviceProfile)
class DeviceProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "built_in", "updated_at"]
    list_filter = ["built_in"]
    inlines = [ProfileObjectInline]


@admin.register(ExpectedPoint)
class ExpectedPointAdmin(admin.ModelAdmin):
    list_display = ["device", "object_type", "instance", "name", "units"]
    list_select_related = ["device"]
