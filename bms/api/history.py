"""Series of a point's or a virtual object's history at a chosen width, as JSON and as CSV,
and a device's points as one CSV (bms.history.series picks the level that answers); and a
remote trend log read back into history (a backfill_trendlog task, queued by the same service
as the trend log's page: bms.tasks.submission.backfill_trendlog)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, field_validator

from bms.api.auth import require_operator, user_name
from bms.api.devices import get_device, get_point
from bms.api.readings import EARLIEST, in_utc
from bms.api.responses import ErrorOut, reading, writing
from bms.api.schemas import TaskCreated
from bms.api.tasks import created
from bms.api.virtual import get_object
from bms.devices.models import BACnetPoint
from bms.history.export import SERIES_HEADER, csv_lines, series_rows
from bms.history.levels import Subject
from bms.history.series import MAX_WIDTH, Series, SeriesRefused, series
from bms.tasks import submission

router = Router(tags=["history"])

DEFAULT_WINDOW = timedelta(hours=24)
SERIES_ERRORS = {400: ErrorOut}  # start not before end
CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "CSV, a header line first",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class SeriesQuery(Schema):
    start: datetime | None = None
    end: datetime | None = None
    points: int = Field(default=1000, ge=1, le=MAX_WIDTH)

    @field_validator("start", "end")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        return None if moment is None else in_utc(moment)

    def window(self) -> tuple[datetime, datetime]:
        """`start` (default: 24 h before `end`) and `end` (default: now); 400 if backwards."""
        end = self.end or timezone.now()
        start = self.start or max(EARLIEST + DEFAULT_WINDOW, end) - DEFAULT_WINDOW
        if start >= end:
            raise HttpError(400, "start must be before end")
        return start, end


class BucketOut(Schema):
    time: datetime  # a raw reading's time, or the start of a bucket
    count: int  # readings summarised
    min: float | None
    max: float | None
    avg: float | None  # for a binary object: the fraction of readings that were active
    last: Any


class SeriesOut(Schema):
    start: datetime
    end: datetime
    resolution: str  # "raw", "1 min", "15 min", "1 h", or "N s" when buckets were merged
    resolution_seconds: int  # 0 for raw readings
    items: list[BucketOut]


def _series(subject: Subject, query: SeriesQuery) -> Series:
    start, end = query.window()
    try:
        return series(subject, start, end, query.points)
    except SeriesRefused as exc:
        raise HttpError(400, str(exc)) from exc


def _out(found: Series) -> dict[str, Any]:
    return {
        "start": found.start,
        "end": found.end,
        "resolution": found.resolution_name,
        "resolution_seconds": found.resolution,
        "items": [
            {
                "time": found.time_of(bucket),
                "count": bucket.count,
                "min": bucket.minimum,
                "max": bucket.maximum,
                "avg": bucket.average,
                "last": bucket.last,
            }
            for bucket in found.buckets
        ],
    }


def _csv(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _series_csv(found: Series, name: str) -> StreamingHttpResponse:
    stamp = f"{found.start:%Y%m%dT%H%M}-{found.end:%Y%m%dT%H%M}"
    lines = csv_lines(iter([SERIES_HEADER, *series_rows(found)]))
    return _csv(lines, f"{name}-{stamp}.csv")


@router.get("/points/{point_pk}/series", response=reading(SeriesOut) | SERIES_ERRORS)
def point_series(request: HttpRequest, point_pk: int, query: Query[SeriesQuery]) -> dict:
    """The point's history from `start` (default: 24 h before `end`) to `end` (default: now)
    in at most `points` items: raw readings when they fit, else buckets (min/max/avg/last)."""
    return _out(_series((get_point(point_pk).pk, None), query))


@router.get(
    "/points/{point_pk}/series.csv",
    response=reading(None) | SERIES_ERRORS,
    openapi_extra=CSV_RESPONSE,
)
def point_series_csv(
    request: HttpRequest, point_pk: int, query: Query[SeriesQuery]
) -> StreamingHttpResponse:
    """The point's series (as /series) as CSV: time, count, min, max, avg, last."""
    point = get_point(point_pk)
    return _series_csv(_series((point.pk, None), query), f"point-{point.pk}")


@router.get("/virtual-objects/{object_pk}/series", response=reading(SeriesOut) | SERIES_ERRORS)
def virtual_object_series(request: HttpRequest, object_pk: int, query: Query[SeriesQuery]) -> dict:
    """The virtual object's history, as a point's /series."""
    return _out(_series((None, get_object(object_pk).pk), query))


@router.get(
    "/virtual-objects/{object_pk}/series.csv",
    response=reading(None) | SERIES_ERRORS,
    openapi_extra=CSV_RESPONSE,
)
def virtual_object_series_csv(
    request: HttpRequest, object_pk: int, query: Query[SeriesQuery]
) -> StreamingHttpResponse:
    obj = get_object(object_pk)
    return _series_csv(_series((None, obj.pk), query), f"virtual-object-{obj.pk}")


DEVICE_HEADER = ["point_id", "object_type", "instance", "name", "units", *SERIES_HEADER]


@router.get(
    "/devices/{device_pk}/history.csv",
    response=reading(None) | SERIES_ERRORS,
    openapi_extra=CSV_RESPONSE,
)
def device_history_csv(
    request: HttpRequest, device_pk: int, query: Query[SeriesQuery]
) -> StreamingHttpResponse:
    """Every point of the device, one series after another (each as /points/{id}/series),
    as CSV: point_id, object_type, instance, name, units, then the series' columns."""
    device = get_device(device_pk)
    start, end = query.window()
    points = list(device.points.order_by("object_type", "instance"))

    def rows() -> Iterator[list[Any]]:
        yield DEVICE_HEADER
        for point in points:
            yield from _point_rows(point, series((point.pk, None), start, end, query.points))

    stamp = f"{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    return _csv(csv_lines(rows()), f"device-{device.device_instance}-{stamp}.csv")


def _point_rows(point: BACnetPoint, found: Series) -> Iterator[list[Any]]:
    about = [point.pk, point.object_type, point.instance, point.name, point.units]
    for row in series_rows(found):
        yield [*about, *row]


@router.post("/points/{point_pk}/backfill", response=writing(202, TaskCreated))
def point_backfill(request: HttpRequest, point_pk: int) -> Status[Any]:
    """Queue reading the remote trend log `point_pk` (a point of type trend-log) into the
    history of the point it logs; 400 for a point that is not a trend log or logs no point of
    its device. The task names who asked."""
    require_operator(request)
    task = submission.backfill_trendlog(get_point(point_pk), user=user_name(request))
    return Status(202, created(task))
