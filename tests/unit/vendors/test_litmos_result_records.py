"""Litmos result rows as ResultRecords: both body formats, odd dates, status rules, and
the merge of a window's assignment rows into its course rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.vendors.base import ResultStatus
from syncd.vendors.litmos import wire
from syncd.vendors.litmos.results import (
    AssignmentRow,
    assigned_record,
    assignment_row,
    course_record,
    detail_record,
    merged,
    path_record,
    status_of,
)

MAR_2 = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
MS_MAR_2 = 1709373600000

JSON_RESULT = {
    "Id": "course1",
    "UserId": "user1",
    "OriginalCourseId": 5,
    "OriginalUserId": 6,
    "Name": "Safety",
    "Active": True,
    "CreatedDate": "/Date(1704103200000-0000)/",
    "UpdatedDate": f"/Date({MS_MAR_2}-0000)/",
    "StartedDate": "/Date(1709200800000-0000)/",
    "Completed": True,
    "PercentageComplete": 100.00,
    "CompletedDate": f"/Date({MS_MAR_2}-0000)/",
    "UpToDate": True,
    "Overdue": False,
    "CompliantTillDate": "/Date(1740909600000-0000)/",
    "DueDate": "/Date(1709805600000-0000)/",
    "Code": "SAFE",
    "UserName": "ann@corp.test",
    "LearningPathAssignment": False,
    "TeamAssignment": True,
}

XML_RESULTS = (
    '<UserResults xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><UserResult>'
    "<Id>course1</Id><UserId>user1</UserId><Name>Safety</Name><Active>true</Active>"
    "<CreatedDate>2024-01-01T10:00:00</CreatedDate><UpdatedDate>2024-03-02T10:00:00.5"
    '</UpdatedDate><StartedDate i:nil="true"/><Completed>false</Completed>'
    "<PercentageComplete>50.00</PercentageComplete>"
    '<CompletedDate i:nil="true"/><CompliantTillDate i:nil="true"/>'
    "<Code>SAFE</Code><UserName>ann@corp.test</UserName></UserResult></UserResults>"
)


def test_a_json_course_row() -> None:
    record = course_record(JSON_RESULT)
    assert (record.remote_user_id, record.item_kind, record.item_id, record.course_id) == (
        "user1",
        "course",
        "course1",
        "course1",
    )
    assert (record.status, record.completed, record.passed, record.percentage) == (
        ResultStatus.COMPLETED,
        True,
        None,
        100.0,
    )
    assert record.completed_at == MAR_2 and record.updated_at == MAR_2
    assert record.assigned_at == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert record.started_at == datetime(2024, 2, 29, 10, tzinfo=UTC)
    assert record.expires_at == datetime(2025, 3, 2, 10, tzinfo=UTC)
    assert record.raw["DueDate"] == "2024-03-07T10:00:00+00:00"
    assert record.raw["TeamAssignment"] == "true" and record.raw["Active"] == "true"
    assert (record.item_name, record.username, record.external_id) == (
        "Safety",
        "ann@corp.test",
        "",
    )


def test_an_xml_course_row() -> None:
    (item,) = wire.as_items(wire.decode(XML_RESULTS.encode(), "application/xml"))
    record = course_record(item)
    assert (record.status, record.percentage, record.completed) == (
        ResultStatus.IN_PROGRESS,
        50.0,
        False,
    )
    assert record.updated_at == datetime(2024, 3, 2, 10, 0, 0, 500000, tzinfo=UTC)
    assert record.started_at is None and record.completed_at is None
    assert record.expires_at is None


def test_an_empty_xml_answer_is_no_rows() -> None:
    body = b'<UserResults xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>'
    assert wire.as_items(wire.decode(body, "application/xml")) == []


@pytest.mark.parametrize(
    ("completed", "percentage", "started", "passed", "status"),
    [
        (False, None, False, None, ResultStatus.NOT_STARTED),
        (False, 0.0, False, None, ResultStatus.NOT_STARTED),
        (False, 0.0, True, None, ResultStatus.IN_PROGRESS),
        (False, 25.0, False, None, ResultStatus.IN_PROGRESS),
        (True, 100.0, True, None, ResultStatus.COMPLETED),
        (True, 100.0, True, True, ResultStatus.PASSED),
        (True, 100.0, True, False, ResultStatus.FAILED),
        (False, 100.0, True, False, ResultStatus.FAILED),
    ],
)
def test_status_rules(completed, percentage, started, passed, status) -> None:
    got = status_of(completed=completed, percentage=percentage, started=started, passed=passed)
    assert got is status


def test_a_verdict_the_row_gives_is_kept() -> None:
    failed = course_record({**JSON_RESULT, "Passed": "false"})
    assert (failed.status, failed.passed) == (ResultStatus.FAILED, False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"/Date({MS_MAR_2}+0100)/", MAR_2),
        (f"/Date({MS_MAR_2})/", MAR_2),
        ("2024-03-02T10:00:00.1234567", datetime(2024, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-03-02T11:00:00+01:00", MAR_2),
        ("2024-03-02T10:00:00Z", MAR_2),
        ("", None),
        (None, None),
        ("/Date(-62135596800000)/", None),
        ("0001-01-01T00:00:00", None),
        ("next tuesday", None),
    ],
)
def test_odd_dates(value, expected) -> None:
    assert course_record({**JSON_RESULT, "CompletedDate": value}).completed_at == expected


def test_case_and_alias_blind_members() -> None:
    row = {"id": "c", "userid": "u", "complete": "True", "percentagecomplete": "100", "Name": "X"}
    record = course_record(row)
    assert (record.remote_user_id, record.item_id, record.completed, record.percentage) == (
        "u",
        "c",
        True,
        100.0,
    )
    assert course_record({**row, "percentagecomplete": "n/a"}).percentage is None


def test_merge_gives_one_record_per_person_and_course() -> None:
    assigned = datetime(2024, 2, 1, tzinfo=UTC)
    later = datetime(2024, 3, 3, tzinfo=UTC)
    assignments = {
        ("user1", "course1"): AssignmentRow(assigned, later, True),
        ("user2", "course1"): AssignmentRow(assigned, assigned, True),
    }
    (record,) = merged([JSON_RESULT], assignments)
    assert record.assigned_at == assigned, "the assignment row's date wins"
    assert record.updated_at == later, "the later of the two changes"
    assert assignments == {("user2", "course1"): AssignmentRow(assigned, assigned, True)}


def test_a_removed_assignment_marks_its_result_inactive() -> None:
    removed = AssignmentRow(None, MAR_2, active=False)
    record = course_record(JSON_RESULT, removed)
    assert record.raw["Active"] == "false"
    assert record.assigned_at == datetime(2024, 1, 1, 10, tzinfo=UTC), "kept from the result"
    assert record.status is ResultStatus.COMPLETED


def test_an_assignment_row() -> None:
    row = {
        "UserId": "u",
        "Id": "c",
        "Active": False,
        "CreatedDate": "/Date(1704103200000-0000)/",
        "UpdatedDate": f"/Date({MS_MAR_2}-0000)/",
    }
    assert assignment_row(row) == AssignmentRow(datetime(2024, 1, 1, 10, tzinfo=UTC), MAR_2, False)


def test_a_learning_path_row() -> None:
    row = {
        "Id": "path1",
        "UserId": "user1",
        "Active": True,
        "Name": "Onboarding",
        "PercentageComplete": 100,
        "Completed": True,
        "CreatedDate": "/Date(1704103200000-0000)/",
        "UpdatedDate": f"/Date({MS_MAR_2}-0000)/",
        "CompliantTillDate": None,
        "StartDate": "/Date(1709200800000-0000)/",
        "FinishDate": f"/Date({MS_MAR_2}-0000)/",
    }
    record = path_record(row)
    assert (record.item_kind, record.item_id, record.course_id, record.status) == (
        "learning_path",
        "path1",
        "",
        ResultStatus.COMPLETED,
    )
    assert record.completed_at == MAR_2 and record.expires_at is None


def test_a_results_details_row_leaves_the_login_key_out() -> None:
    row = {
        "Id": "user1",
        "UserName": "ann@corp.test",
        "LoginKey": "https://x.litmos.com//login.aspx?loginkey=secret",
        "CourseId": "course1",
        "UpdatedDate": f"/Date({MS_MAR_2}-0000)/",
        "CourseName": "Safety",
        "Complete": True,
        "PercentageComplete": 100,
        "CompletedDate": f"/Date({MS_MAR_2}-0000)/",
        "CompliantTillDate": None,
    }
    record = detail_record(row)
    assert (record.remote_user_id, record.item_id, record.item_name) == (
        "user1",
        "course1",
        "Safety",
    )
    assert record.status is ResultStatus.COMPLETED and record.assigned_at is None
    assert "secret" not in repr(record)


def test_a_users_assignment_from_the_batch_form() -> None:
    path = {
        "Id": "lp1",
        "Name": "Onboarding",
        "Complete": False,
        "PercentageComplete": 0.0,
        "AssignedDate": f"/Date({MS_MAR_2}-0000)/",
        "StartDate": None,
        "IsLearningPath": True,
        "UserId": "user1",
    }
    record = assigned_record("ignored", path)
    assert (record.remote_user_id, record.item_kind, record.status, record.assigned_at) == (
        "user1",
        "learning_path",
        ResultStatus.NOT_STARTED,
        MAR_2,
    )
    course = assigned_record("user2", {**path, "Id": "c", "IsLearningPath": False, "UserId": None})
    assert (course.remote_user_id, course.item_kind, course.course_id) == ("user2", "course", "c")
