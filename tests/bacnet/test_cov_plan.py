"""How a monitored point is watched, and what a refused SubscribeCOV means (pure rules)."""

from __future__ import annotations

import pytest

from bms.bacnet import cov_plan
from bms.bacnet.cov_plan import WatchedPoint
from bms.bacnet.errors import AbortResponse, BACnetTimeoutError, ErrorResponse, RejectResponse
from bms.bacnet.types import ObjectRef


def point(point_id: int, object_type: str, mode: str) -> WatchedPoint:
    return WatchedPoint(point_id, 1, ObjectRef(object_type, point_id), mode, 60.0)


@pytest.mark.parametrize(
    ("mode", "refused", "expected"),
    [
        ("cov", False, "cov"),
        ("cov", True, None),
        ("auto", False, "cov"),
        ("auto", True, "poll"),
        ("poll", False, "poll"),
        ("poll", True, "poll"),
    ],
)
def test_the_way_a_point_is_watched_follows_its_mode_and_the_refusal(mode, refused, expected):
    assert cov_plan.way(mode, refused) == expected


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown monitoring mode 'push'"):
        cov_plan.way("push", False)


def test_a_device_without_the_service_refuses_every_object_type():
    error = RejectResponse("rejected", error_code="unrecognized-service")
    assert cov_plan.refusal_key(error, "analog-input") == "*"


def test_an_error_about_cov_is_remembered_for_the_object_type():
    error = ErrorResponse(
        "x", error_class="object", error_code="optional-functionality-not-supported"
    )
    assert cov_plan.refusal_key(error, "binary-value") == "binary-value"


@pytest.mark.parametrize(
    "error",
    [
        BACnetTimeoutError("no answer"),
        AbortResponse("aborted", error_code="buffer-overflow"),
        ErrorResponse("gone", error_class="object", error_code="unknown-object"),
    ],
)
def test_timeouts_aborts_and_missing_objects_are_not_lasting_refusals(error):
    assert cov_plan.refusal_key(error, "analog-input") is None


def test_split_sends_refused_types_to_polling_or_nowhere_by_mode():
    points = [
        point(1, "analog-input", "auto"),
        point(2, "analog-input", "cov"),
        point(3, "analog-value", "auto"),
        point(4, "analog-value", "poll"),
    ]
    by_cov, polled, unwatched = cov_plan.split(points, {"analog-input": {"reason": "no"}})
    assert [p.point_id for p in by_cov] == [3]
    assert [p.point_id for p in polled] == [1, 4]
    assert [p.point_id for p in unwatched] == [2]
    everything_refused = cov_plan.split(points, {"*": {}})
    assert [p.point_id for p in everything_refused[0]] == []
