"""URLs. Only the admin for now; the web UI and the API mount here later."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
