from django.urls import path

from bms.web.views import audit, devices, find, monitoring, points, tasks, tokens, users, virtual

app_name = "web"

urlpatterns = [
    path("", devices.home, name="home"),
    path("devices/", devices.device_list, name="devices"),
    path("devices/discover/", devices.trigger_discovery, name="discover"),
    path("devices/<int:pk>/", devices.device_detail, name="device"),
    path("devices/<int:pk>/read-points/", devices.device_read_points, name="read_points"),
    path("devices/<int:pk>/collect/", devices.device_collect, name="collect"),
    path("devices/<int:pk>/monitoring/", monitoring.device_monitoring, name="device_monitoring"),
    path(
        "devices/<int:pk>/forget-cov/",
        monitoring.device_forget_cov_refusals,
        name="device_forget_cov",
    ),
    path("tree/", find.tree, name="tree"),
    path("points/", find.point_search, name="point_search"),
    path("points/<int:pk>/", points.point_detail, name="point"),
    path("points/<int:pk>/read-all/", points.point_read_all, name="point_read_all"),
    path("points/<int:pk>/write/", devices.point_write, name="point_write"),
    path("points/<int:pk>/monitoring/", monitoring.point_monitoring, name="point_monitoring"),
    path("tasks/", tasks.task_list, name="tasks"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task"),
    path("audit/", audit.audit_log, name="audit"),
    path("virtual/", virtual.virtual_list, name="virtual_list"),
    path("virtual/new/", virtual.virtual_create, name="virtual_create"),
    path("virtual/<int:device_id>/", virtual.virtual_detail, name="virtual"),
    path("virtual/<int:device_id>/edit/", virtual.virtual_edit, name="virtual_edit"),
    path("virtual/<int:device_id>/delete/", virtual.virtual_delete, name="virtual_delete"),
    path("virtual/<int:device_id>/start/", virtual.virtual_start, name="virtual_start"),
    path("virtual/<int:device_id>/stop/", virtual.virtual_stop, name="virtual_stop"),
    path("virtual/objects/<int:pk>/", virtual.virtual_object, name="virtual_object"),
    path("virtual/objects/<int:pk>/command/", virtual.virtual_command, name="virtual_command"),
    path("users/", users.user_list, name="users"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:pk>/", users.user_detail, name="user"),
    path("users/<int:pk>/role/", users.user_role, name="user_role"),
    path("users/<int:pk>/active/", users.user_active, name="user_active"),
    path("users/<int:pk>/password/", users.user_password, name="user_password"),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
]
