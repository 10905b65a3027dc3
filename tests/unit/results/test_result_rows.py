"""A ResultRecord becomes the plain column values of the results table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.results.rows import row
from syncd.vendors.base import ResultRecord, ResultStatus


def test_every_column_is_carried_and_blanks_become_none():
    done = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    record = ResultRecord(
        remote_user_id="u1",
        username="",
        item_kind="course",
        item_id="c1",
        item_name="Safety",
        status=ResultStatus.PASSED,
        completed=True,
        passed=True,
        percentage=100.0,
        score=87.5,
        seconds=600,
        completed_at=done,
        raw={"Code": "S1"},
    )
    values = row(record)
    assert values["status"] == "passed" and values["completed"] is True
    assert values["username"] is None and values["external_id"] is None
    assert values["course_id"] is None
    assert values["completed_at"] == done and values["score"] == 87.5
    assert values["raw"] == {"Code": "S1"}


def test_a_status_outside_the_normalized_words_is_a_connector_bug():
    record = ResultRecord(
        remote_user_id="u", username="u", item_kind="course", item_id="c", status="Complete"
    )
    with pytest.raises(ValueError, match="not one of"):
        row(record)
