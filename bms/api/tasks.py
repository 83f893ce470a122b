"""Tasks: create, list, get; and seed 000's /api/task-status/<id>/."""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import Field
from pydantic import ValidationError as PydanticError

from bms.api.auth import require_operator, user_name
from bms.api.fields import Text
from bms.api.paging import limit_field, offset_field, page
from bms.api.responses import reading, writing
from bms.api.schemas import (
    CollectParams,
    DiscoverParams,
    ReadPointsParams,
    SeedErrorOut,
    SiteOut,
    TaskCreated,
    TaskIn,
    TaskOut,
    TaskPage,
    TaskStatusOut,
    WritePointParams,
)
from bms.devices.models import BACnetPoint
from bms.realtime.payloads import task_payload
from bms.tasks import sites, states, submission
from bms.tasks.models import BACnetTask

router = Router(tags=["tasks"])

TaskStatus = Literal["pending", "running", "completed", "failed"]
TaskType = Literal["discover", "collect", "read_points", "write_point"]


def created(task: BACnetTask) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "site": task.site,
        "status": task.status,
        "status_url": reverse("api:task_status", args=[task.id]),
    }


class TaskFilters(Schema):
    type: TaskType | None = None
    status: TaskStatus | None = None
    site: Text | None = Field(default=None, max_length=100)
    limit: int = limit_field(50)
    offset: int = offset_field()


@router.get("/tasks", response=reading(TaskPage, lookup=False))
def list_tasks(request: HttpRequest, filters: Query[TaskFilters]) -> dict:
    tasks = BACnetTask.objects.all()
    if filters.type:
        tasks = tasks.filter(task_type=filters.type)
    if filters.status:
        tasks = tasks.filter(status=filters.status)
    if filters.site:
        tasks = tasks.filter(site=filters.site)
    found = page(tasks, filters.limit, filters.offset)
    return {**found, "items": [task_payload(task) for task in found["items"]]}


@router.get("/tasks/{task_id}", response=reading(TaskOut))
def get_task(request: HttpRequest, task_id: int) -> dict:
    task = BACnetTask.objects.filter(id=task_id).first()
    if task is None:
        raise HttpError(404, f"there is no task {task_id}")
    return task_payload(task)


@router.get("/sites", response=reading(list[SiteOut], lookup=False, query=False))
def list_sites(request: HttpRequest) -> list[dict[str, Any]]:
    """The sites a task can be queued for: this installation's own (default) first, then those
    of known workers and devices."""
    alive = sites.workers_alive()
    return [
        {"name": name, "default": name == settings.BACNET_SITE, "workers_alive": alive[name]}
        for name in sites.known_sites()
    ]


@router.post("/tasks", response=writing(202, TaskCreated))
def create_task(request: HttpRequest, body: TaskIn) -> Status[Any]:
    """Queue a BACnet task; progress arrives on the `tasks` websocket group and at its URL."""
    require_operator(request)
    return Status(202, created(_submit(request, body)))


def _submit(request: HttpRequest, body: TaskIn) -> BACnetTask:
    user = user_name(request)
    try:
        if body.type == "discover":
            p = DiscoverParams.model_validate(body.parameters)
            return submission.discover(p.low, p.high, p.address, p.force, site=body.site, user=user)
        if body.type == "collect":
            return submission.collect(
                CollectParams.model_validate(body.parameters).device_ids, site=body.site, user=user
            )
        if body.type == "read_points":
            return submission.read_points(
                ReadPointsParams.model_validate(body.parameters).device_id,
                site=body.site,
                user=user,
            )
        w = WritePointParams.model_validate(body.parameters)
    except PydanticError as exc:
        raise ValidationError(_in_parameters(exc)) from exc
    point = BACnetPoint.objects.select_related("device").filter(id=w.point_id).first()
    if point is None:
        raise HttpError(404, f"there is no point with id {w.point_id}")
    try:
        sites.site_of_point(point.id, body.site)
    except sites.UnknownSite as exc:
        raise HttpError(400, str(exc)) from exc
    return submission.write_point(point, w.value, w.priority, w.relinquish, user=user, source="api")


def _in_parameters(exc: PydanticError) -> list[dict[str, Any]]:
    """The errors as ninja's own, located in the body: "parameters.device_id: ..."."""
    return [
        {"loc": ["body", "parameters", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False)
    ]


@router.get(
    "/task-status/{task_id}/",
    url_name="task_status",
    response={**reading(TaskStatusOut), 404: SeedErrorOut},
)
def task_status(request: HttpRequest, task_id: int) -> JsonResponse:
    """Seed 000's status endpoint, field for field (and `finished`)."""
    task = BACnetTask.objects.filter(id=task_id).first()
    if task is None:
        return JsonResponse({"error": "Task not found"}, status=404)
    return JsonResponse(
        {
            "id": task.id,
            "status": task.status,
            "type": task.task_type,
            "created": task.created_at.isoformat(),
            "completed": task.completed_at.isoformat() if task.completed_at else None,
            "result": task.result,
            "error": task.error_message,
            "finished": task.status in states.FINAL,
        }
    )
