"""Enabley answers mapped to ResultRecords: every status, missing fields, odd dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.vendors.base import ResultStatus
from syncd.vendors.enabley.results import (
    certificate_channels_of,
    certificate_record,
    certificate_status,
    parse_date,
    performance_record,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def row(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channelName": "Safety 101",
        "completionDate": None,
        "externalChannelId": "C-SAFE",
        "externalUserId": "E001",
        "progress": 0,
        "score": 0,
    }
    return {**base, **fields}


def state(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "certificationDate": None,
        "expirationDate": None,
        "externalCertificateId": "CERT-1",
        "isRequired": False,
        "name": "Forklift licence",
        "pdfUrl": "https://lms.invalid/c/CERT-1/E001.pdf?sig=do-not-keep",
        "state": "INIT",
    }
    return {**base, **fields}


# ------------------------------------------------------------------------ performance


def test_a_completed_channel_is_a_completed_course_keyed_by_the_hris_identifier():
    record = performance_record(
        row(progress=100, score=87, completionDate="2030-05-02T08:30:00.125Z")
    )
    assert record is not None
    assert (record.remote_user_id, record.username, record.external_id) == ("E001",) * 3
    assert (record.item_kind, record.item_id, record.item_name) == (
        "course",
        "C-SAFE",
        "Safety 101",
    )
    assert record.status == ResultStatus.COMPLETED
    assert record.completed is True
    assert record.passed is None
    assert (record.percentage, record.score) == (100.0, 87.0)
    assert record.completed_at == datetime(2030, 5, 2, 8, 30, 0, 125000, tzinfo=UTC)
    assert record.updated_at == record.completed_at, "the only change time a row carries"
    assert record.seconds is None and record.started_at is None


def test_a_completion_date_completes_the_course_even_below_full_progress():
    record = performance_record(row(progress=90, completionDate="2030-05-02T08:30:00.000Z"))
    assert record is not None and record.status == ResultStatus.COMPLETED


def test_full_progress_without_a_date_is_completed_with_no_completion_date():
    record = performance_record(row(progress=100))
    assert record is not None
    assert record.status == ResultStatus.COMPLETED and record.completed_at is None


def test_partial_progress_is_in_progress_and_keeps_its_score():
    record = performance_record(row(progress=40, score=0))
    assert record is not None
    assert record.status == ResultStatus.IN_PROGRESS
    assert record.completed is False
    assert (record.percentage, record.score) == (40.0, 0.0)
    assert record.updated_at is None


def test_no_progress_is_not_started_without_the_default_zero_score():
    record = performance_record(row())
    assert record is not None
    assert record.status == ResultStatus.NOT_STARTED
    assert (record.percentage, record.score) == (0.0, None)


def test_a_not_started_row_with_a_real_score_keeps_it():
    record = performance_record(row(score=15))
    assert record is not None and record.score == 15.0


def test_missing_and_odd_numbers_are_empty_and_progress_is_clamped():
    bare = performance_record({"externalUserId": "E1", "externalChannelId": "C1"})
    assert bare is not None
    assert bare.status == ResultStatus.NOT_STARTED
    assert (bare.percentage, bare.score, bare.item_name, bare.completed_at) == (None,) * 2 + (
        "",
        None,
    )
    odd = performance_record(row(progress="55", score="n/a"))
    assert odd is not None and (odd.percentage, odd.score) == (55.0, None)
    over = performance_record(row(progress=130))
    assert over is not None and over.percentage == 100.0
    assert over.status == ResultStatus.COMPLETED
    assert performance_record(row(progress=float("nan"))).percentage is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fields", [{"externalUserId": None}, {"externalUserId": " "}, {"externalChannelId": ""}]
)
def test_a_row_without_user_or_channel_is_skipped(fields):
    assert performance_record(row(**fields)) is None


# ------------------------------------------------------------------------ certificates


@pytest.mark.parametrize(
    ("vendor_state", "status", "completed", "passed"),
    [
        ("CERTIFIED", ResultStatus.PASSED, True, True),
        ("ABOUT_TO_EXPIRE", ResultStatus.PASSED, True, True),
        ("EXPIRED", ResultStatus.EXPIRED, True, True),
        ("IN_PROGRESS", ResultStatus.IN_PROGRESS, False, None),
        ("AWAITS_LEARNER_CONFIRMATION", ResultStatus.IN_PROGRESS, False, None),
        ("INIT", ResultStatus.NOT_STARTED, False, None),
        ("REVOKED", ResultStatus.FAILED, False, False),
    ],
)
def test_every_certificate_state_has_its_status(vendor_state, status, completed, passed):
    dates = (
        {
            "certificationDate": "2030-01-10T00:00:00.000Z",
            "expirationDate": "2031-01-10T00:00:00.000Z",
        }
        if vendor_state in ("CERTIFIED", "ABOUT_TO_EXPIRE", "EXPIRED")
        else {}
    )
    record = certificate_record("E001", state(state=vendor_state, **dates), now=NOW)
    assert record is not None
    assert (record.status, record.completed, record.passed) == (status, completed, passed)
    assert record.raw["state"] == vendor_state


def test_a_certificate_carries_its_dates_and_requirement_but_not_its_pdf_link():
    record = certificate_record(
        "E001",
        state(
            state="CERTIFIED",
            certificationDate="2030-01-10T09:00:00.000Z",
            expirationDate="2031-01-10T09:00:00.000Z",
            isRequired=True,
        ),
        now=NOW,
    )
    assert record is not None
    assert (record.item_kind, record.item_id, record.item_name) == (
        "certificate",
        "CERT-1",
        "Forklift licence",
    )
    assert (record.remote_user_id, record.username, record.external_id) == ("E001",) * 3
    assert record.completed_at == datetime(2030, 1, 10, 9, tzinfo=UTC)
    assert record.expires_at == datetime(2031, 1, 10, 9, tzinfo=UTC)
    assert record.raw == {"state": "CERTIFIED", "isRequired": True}
    assert record.updated_at == record.completed_at
    assert "sig=" not in repr(record)


def test_a_certified_state_past_its_expiration_date_is_expired():
    expired = state(
        state="CERTIFIED",
        certificationDate="2029-01-01T00:00:00.000Z",
        expirationDate=(NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    record = certificate_record("E001", expired, now=NOW)
    assert record is not None and record.status == ResultStatus.EXPIRED
    still = certificate_record("E001", {**expired, "expirationDate": None}, now=NOW)
    assert still is not None and still.status == ResultStatus.PASSED


def test_an_unknown_state_falls_back_on_the_certification_date():
    assert certificate_status("", None, None, now=NOW) == ResultStatus.NOT_STARTED
    assert certificate_status("NEW_STATE", NOW, None, now=NOW) == ResultStatus.PASSED
    assert certificate_status("NEW_STATE", NOW, NOW, now=NOW) == ResultStatus.EXPIRED


def test_a_state_without_a_certificate_id_is_skipped_and_lower_case_states_are_read():
    assert certificate_record("E001", state(externalCertificateId=None), now=NOW) is None
    record = certificate_record("E001", state(state="certified"), now=NOW)
    assert record is not None and record.status == ResultStatus.PASSED


def test_the_channels_of_certificates_come_from_course_ids():
    items = [
        {"externalCertificateId": "A", "courseIds": ["C1", "C2"]},
        {"externalCertificateId": "B", "courseIds": None},
        {"externalCertificateId": "C", "courseIds": ["C2", "", None, 7]},
    ]
    assert certificate_channels_of(items) == {"C1", "C2", "7"}


# ------------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-05-02T08:30:00.125Z", datetime(2030, 5, 2, 8, 30, 0, 125000, tzinfo=UTC)),
        ("2030-05-02T08:30:00Z", datetime(2030, 5, 2, 8, 30, tzinfo=UTC)),
        ("2030-05-02T10:30:00.000+0200", datetime(2030, 5, 2, 8, 30, tzinfo=UTC)),
        ("2030-05-02T03:30:00-05:00", datetime(2030, 5, 2, 8, 30, tzinfo=UTC)),
        ("2030-05-02T08:30:00", datetime(2030, 5, 2, 8, 30, tzinfo=UTC)),
        ("2030-05-02", datetime(2030, 5, 2, tzinfo=UTC)),
        ("2030-05-02T08:30:00.1234567Z", datetime(2030, 5, 2, 8, 30, 0, 123456, tzinfo=UTC)),
        (1_904_373_000_000, datetime(2030, 5, 7, 8, 30, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("   ", None),
        ("yesterday", None),
        ("2030-13-45T00:00:00Z", None),
        (True, None),
        (10**20, None),
    ],
)
def test_dates_in_the_reference_format_and_its_neighbours(value, expected):
    parsed = parse_date(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
