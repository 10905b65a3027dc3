"""SCORM Cloud wire helpers: registration ids that a retry repeats exactly, learner bodies."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from syncd.vendors.scormcloud import wire

SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_registration_id_is_readable_and_repeatable():
    made = wire.registration_id("E1001", "SAFETY-101")
    assert made == wire.registration_id("E1001", "SAFETY-101")
    assert made.startswith("syncd-E1001-SAFETY-101-")


@given(st.text(min_size=1), st.text(min_size=1))
def test_registration_id_is_safe_for_any_characters(learner, course):
    made = wire.registration_id(learner, course)
    assert SAFE.match(made) and len(made) <= 6 + 40 + 1 + 40 + 1 + 12


def test_pairs_that_slug_alike_get_different_ids():
    assert wire.registration_id("a b", "c") != wire.registration_id("a/b", "c")
    assert wire.registration_id("a-b", "c") != wire.registration_id("a", "b-c")


def test_learner_body_is_complete_even_when_details_are_missing():
    body = wire.learner("E1", {"firstName": "Ann"})
    assert body == {"id": "E1", "email": "", "firstName": "Ann", "lastName": ""}


def test_listed_registration_reads_learner_course_and_completion():
    item = {
        "id": "r1",
        "course": {"id": "C1"},
        "learner": {"id": "E1", "email": "e@x.test", "firstName": None},
        "registrationCompletion": "COMPLETED",
    }
    assert wire.learner_of(item) == {
        "id": "E1",
        "email": "e@x.test",
        "firstName": "",
        "lastName": "",
    }
    assert wire.course_of(item) == "C1" and wire.completed(item)
    assert not wire.completed({"registrationCompletion": "INCOMPLETE"})
    assert wire.registrations({"registrations": [item, "junk"], "more": "t"}) == [item]
    assert wire.more({"registrations": []}) is None and wire.more({"more": "t"}) == "t"


def test_the_plan_prices_the_configured_forms_of_assignment_and_leaving():
    from syncd.config import ConnectionConfig
    from syncd.vendors.scormcloud import ScormCloudConnector

    def priced(**options: str) -> dict[str, int]:
        connection = ConnectionConfig(
            vendor="scormcloud", base_url="sandbox:", credentials={}, options=options
        )
        profile = ScormCloudConnector.profile_for(connection)
        return {kind: profile.calls_for(kind) for kind in ("assign_courses", "deactivate_user")}

    assert priced() == {"assign_courses": 1, "deactivate_user": 0}
    assert priced(assign_by="private_invitation", leavers="delete_incomplete") == {
        "assign_courses": 2,
        "deactivate_user": 1,
    }
    assert ScormCloudConnector.profile.calls_for("assign_courses") == 1, "the vendor's own"
