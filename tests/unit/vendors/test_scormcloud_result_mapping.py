"""SCORM Cloud registrations -> ResultRecords: every status combination, missing fields, odd
dates, the window's query and its half-open end, and paging without per-row memory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.vendors.base import ResultStatus, Window
from syncd.vendors.paging import PagingError
from syncd.vendors.scormcloud.results import (
    parse_instant,
    read_changes,
    result_record,
    window_params,
)

T = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def body(**fields: Any) -> dict[str, Any]:
    """A listed registration as SCORM Cloud renders it (simulator shape), overridable."""
    base: dict[str, Any] = {
        "id": "R1",
        "instance": 0,
        "updated": "2024-03-01T12:05:00.250Z",
        "registrationCompletion": "UNKNOWN",
        "registrationCompletionAmount": 0.0,
        "registrationSuccess": "UNKNOWN",
        "totalSecondsTracked": 0.0,
        "createdDate": "2024-03-01T12:00:00.000Z",
        "course": {"id": "C1", "title": "Safety", "version": 0},
        "learner": {"id": "E001", "email": "ada@corp.test", "firstName": "Ada"},
        "tags": [],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def record(hris_key: bool = True, **fields: Any) -> Any:
    found = result_record(body(**fields), hris_key=hris_key)
    assert found is not None
    return found


def test_a_registration_maps_every_field() -> None:
    got = record(
        registrationCompletion="COMPLETED",
        registrationCompletionAmount=1.0,
        registrationSuccess="PASSED",
        score={"scaled": 87.5},
        totalSecondsTracked=1800.4,
        firstAccessDate="2024-03-01T12:01:00.000Z",
        lastAccessDate="2024-03-01T12:04:00.000Z",
        completedDate="2024-03-01T12:04:00.000Z",
        instance=2,
    )
    assert (got.remote_user_id, got.username, got.external_id) == ("E001", "ada@corp.test", "E001")
    assert (got.item_kind, got.item_id, got.course_id, got.item_name) == (
        "registration",
        "R1",
        "C1",
        "Safety",
    )
    assert got.status == ResultStatus.PASSED and got.completed and got.passed is True
    assert (got.percentage, got.score, got.seconds) == (100.0, 87.5, 1800)
    assert got.assigned_at == T
    assert got.started_at == T + timedelta(minutes=1)
    assert got.completed_at == T + timedelta(minutes=4)
    assert got.updated_at == T + timedelta(minutes=5, milliseconds=250)
    assert got.expires_at is None
    assert got.raw == {
        "registrationCompletion": "COMPLETED",
        "registrationSuccess": "PASSED",
        "instance": 2,
        "courseVersion": 0,
        "lastAccessDate": "2024-03-01T12:04:00.000Z",
    }


ACCESSED = "2024-03-01T12:01:00Z"


@pytest.mark.parametrize(
    ("completion", "success", "first_access", "status", "completed", "passed"),
    [
        ("COMPLETED", "PASSED", ACCESSED, ResultStatus.PASSED, True, True),
        ("COMPLETED", "FAILED", ACCESSED, ResultStatus.FAILED, True, False),
        ("COMPLETED", "UNKNOWN", ACCESSED, ResultStatus.COMPLETED, True, None),
        ("INCOMPLETE", "PASSED", ACCESSED, ResultStatus.PASSED, False, True),
        ("INCOMPLETE", "FAILED", ACCESSED, ResultStatus.FAILED, False, False),
        ("INCOMPLETE", "UNKNOWN", ACCESSED, ResultStatus.IN_PROGRESS, False, None),
        ("INCOMPLETE", "UNKNOWN", None, ResultStatus.NOT_STARTED, False, None),
        ("UNKNOWN", "UNKNOWN", ACCESSED, ResultStatus.IN_PROGRESS, False, None),
        ("UNKNOWN", "UNKNOWN", None, ResultStatus.NOT_STARTED, False, None),
        ("UNKNOWN", "FAILED", None, ResultStatus.FAILED, False, False),
        ("completed", "passed", ACCESSED, ResultStatus.PASSED, True, True),
        (None, None, None, ResultStatus.NOT_STARTED, False, None),
    ],
)
def test_status_from_completion_and_success(
    completion: str | None,
    success: str | None,
    first_access: str | None,
    status: ResultStatus,
    completed: bool,
    passed: bool | None,
) -> None:
    got = record(
        registrationCompletion=completion,
        registrationSuccess=success,
        firstAccessDate=first_access,
    )
    assert (got.status, got.completed, got.passed) == (status, completed, passed)


def test_time_or_progress_without_an_access_date_counts_as_started() -> None:
    assert record(totalSecondsTracked=12.0).status == ResultStatus.IN_PROGRESS
    assert record(registrationCompletionAmount=0.25).status == ResultStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("completion", "amount", "expected"),
    [
        ("COMPLETED", 1.0, 100.0),
        ("COMPLETED", 0.0, 100.0),  # a SCORM 1.2 course reports no progress measure
        ("COMPLETED", None, 100.0),
        ("INCOMPLETE", 0.333, 33.3),
        ("INCOMPLETE", 0.0, 0.0),
        ("INCOMPLETE", None, None),
        ("INCOMPLETE", 1.7, 100.0),
        ("INCOMPLETE", "0.5", 50.0),
        ("INCOMPLETE", "half", None),
    ],
)
def test_percentage(completion: str, amount: Any, expected: float | None) -> None:
    got = record(registrationCompletion=completion, registrationCompletionAmount=amount)
    assert got.percentage == expected


def test_score_is_taken_as_the_0_to_100_value_the_reference_documents() -> None:
    assert record(score={"scaled": 75}).score == 75.0
    assert record(score={"scaled": 0}).score == 0.0
    assert record(score=None).score is None
    assert record(score={}).score is None
    assert record(score={"scaled": None}).score is None
    assert record(score=88).score is None


def test_seconds_are_whole_and_never_negative() -> None:
    assert record(totalSecondsTracked=59.6).seconds == 60
    assert record(totalSecondsTracked=-3).seconds == 0
    assert record(totalSecondsTracked=None).seconds is None
    assert record(totalSecondsTracked=True).seconds is None


def test_missing_fields_leave_blanks_not_errors() -> None:
    got = result_record({"id": "R9", "learner": {"id": "E9"}}, hris_key=True)
    assert got is not None
    assert (got.username, got.course_id, got.item_name) == ("", "", "")
    assert got.status == ResultStatus.NOT_STARTED
    assert (got.percentage, got.score, got.seconds) == (None, None, None)
    assert (got.assigned_at, got.started_at, got.completed_at, got.updated_at) == (None,) * 4


@pytest.mark.parametrize(
    "broken",
    [
        {"learner": {"id": "E1"}},
        {"id": "", "learner": {"id": "E1"}},
        {"id": "R1"},
        {"id": "R1", "learner": {"email": "x@corp.test"}},
        {"id": "R1", "learner": "E1"},
    ],
)
def test_a_registration_without_id_or_learner_is_no_record(broken: Mapping[str, Any]) -> None:
    assert result_record(broken, hris_key=True) is None


def test_external_id_is_the_learner_id_only_when_that_is_the_hris_key() -> None:
    assert record(hris_key=True).external_id == "E001"
    invited = record(hris_key=False, learner={"id": "ada@corp.test", "email": "ada@corp.test"})
    assert invited.external_id == ""
    assert invited.remote_user_id == "ada@corp.test"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T12:00:00Z", T),
        ("2024-03-01T12:00:00.000Z", T),
        ("2024-03-01T12:00:00.1234567Z", T + timedelta(microseconds=123456)),
        ("2024-03-01T13:00:00+01:00", T),
        ("2024-03-01T07:00:00-0500", T),
        ("2024-03-01T12:00:00", T),  # no offset: UTC
        ("2024-03-01 12:00:00", T),
        ("2024-03-01", T - timedelta(hours=12)),
        ("", None),
        (None, None),
    ],
)
def test_dates_in_every_iso_form_become_aware_utc(text: str | None, expected: Any) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo == UTC


def test_an_unreadable_date_is_left_out_and_kept_in_raw() -> None:
    got = record(
        registrationCompletion="COMPLETED",
        completedDate="yesterday",
        firstAccessDate="2024-02-30T10:00:00Z",
    )
    assert got.status == ResultStatus.COMPLETED
    assert got.completed_at is None and got.started_at is None
    assert got.raw["unreadableDates"] == {
        "completedDate": "yesterday",
        "firstAccessDate": "2024-02-30T10:00:00Z",
    }


# --------------------------------------------------------------------------- the window read


def test_window_params_round_outward_to_the_millisecond() -> None:
    window = Window(T + timedelta(microseconds=1500), T + timedelta(hours=1, microseconds=2500))
    assert window_params(window) == {
        "since": "2024-03-01T12:00:00.001Z",
        "until": "2024-03-01T13:00:00.003Z",
        "datetimeFilter": "updated",
        "orderBy": "updated_asc",
    }
    exact = window_params(Window(T, T + timedelta(days=1)))
    assert (exact["since"], exact["until"]) == (
        "2024-03-01T12:00:00.000Z",
        "2024-03-02T12:00:00.000Z",
    )


class Pages:
    """A scripted ``GET``: each call answers the next page; records what was asked."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, dict[str, str] | None]] = []

    def __call__(self, path: str, params: Mapping[str, str] | None) -> Any:
        self.asked.append((path, dict(params) if params is not None else None))
        return self.answers.pop(0)


def test_pages_are_followed_with_more_alone_and_the_until_end_left_to_the_next_window() -> None:
    window = Window(T, T + timedelta(hours=1))
    get = Pages(
        {"registrations": [body(id="R1"), body(id="R2")], "more": "tok1"},
        {
            "registrations": [
                body(id="R1", updated="2024-03-01T12:30:00Z"),  # read again, newer
                body(id="R3", updated="2024-03-01T13:00:00.000Z"),  # at `until`: next window
                {"id": "", "learner": {"id": "E1"}},
                "not a registration",
            ],
        },
    )
    got = list(read_changes(get, window, hris_key=True))
    assert [(r.item_id, r.updated_at) for r in got] == [
        ("R1", T + timedelta(minutes=5, milliseconds=250)),
        ("R2", T + timedelta(minutes=5, milliseconds=250)),
        ("R1", T + timedelta(minutes=30)),
    ]
    assert get.asked == [
        ("/registrations", window_params(window)),
        ("/registrations", {"more": "tok1"}),
    ]


def test_an_empty_window_is_one_read() -> None:
    get = Pages({"registrations": []})
    assert list(read_changes(get, Window(T, T + timedelta(days=1)), hris_key=True)) == []
    assert len(get.asked) == 1


def test_a_repeated_token_stops_the_walk() -> None:
    get = Pages(
        {"registrations": [body(id="R1")], "more": "same"},
        {"registrations": [body(id="R2")], "more": "same"},
        {"registrations": [body(id="R3")]},
    )
    with pytest.raises(PagingError):
        list(read_changes(get, Window(T, T + timedelta(days=1)), hris_key=True))
    assert len(get.asked) == 2


def test_records_stream_one_page_at_a_time() -> None:
    get = Pages(
        {"registrations": [body(id="R1")], "more": "a"},
        {"registrations": [body(id="R2")]},
    )
    stream = read_changes(get, Window(T, T + timedelta(days=1)), hris_key=True)
    assert next(stream).item_id == "R1"
    assert len(get.asked) == 1
    assert [r.item_id for r in stream] == ["R2"]
    assert len(get.asked) == 2
