from django.contrib import admin
from django.http import HttpRequest

from bms.tasks.models import BACnetTask, WorkerHeartbeat


@admin.register(BACnetTask)
class BACnetTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "status",
        "site",
        "worker_id",
        "attempts",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "task_type", "site"]
    search_fields = ["worker_id", "error_message"]
    # Status moves belong to the queue (conditional updates); the admin only looks.
    readonly_fields = [field.name for field in BACnetTask._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tasks are created through a backend (get_bacnet_backend()), which also notifies workers.
        return False


@admin.register(WorkerHeartbeat)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "site", "backend", "hostname", "pid", "heartbeat_at"]
    list_filter = ["site", "backend"]
