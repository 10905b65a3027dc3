"""The SCORM Cloud connector against its simulator over loopback HTTP: what only it does.

Learners exist only through registrations, an assignment is a registration under an id
derived from person and course (or a private invitation with its send job), learner
details travel complete, and leavers follow the connection's ``leavers`` policy. The
shared contract (``test_connector.py``) covers the rest; the official client
``rustici-software-cloud-v2`` reads the account afterwards, as a third party would.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence

import pytest
import structlog

from syncd import log as syncd_log
from syncd.errors import ConfigError
from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Op, Refs
from syncd.vendors import connect
from syncd.vendors.base import Connector, Outcome, Status
from syncd.vendors.scormcloud import PROFILE
from syncd.vendors.scormcloud.wire import registration_id
from tests.contract.kit import ScormCloudHarness


@pytest.fixture
def harness(sandbox) -> Iterator[ScormCloudHarness]:
    forget_limiters()
    running = sandbox("scormcloud")
    found = ScormCloudHarness(running)
    found.seed_courses("C1", "C2", "C3")
    yield found
    forget_limiters()


def run(connector: Connector, batch: Sequence[Op], refs: Refs | None = None) -> list[Outcome]:
    outcomes = list(connector.execute(batch, refs or Refs()))
    assert [o.key for o in outcomes] == [op.key for op in batch]
    return outcomes


def assign(n: int, *courses: str) -> list[ops.AssignCourses]:
    return [ops.AssignCourses(external_id=f"E{n}", course_ids=(c,)) for c in courses]


def refs_for(*numbers: int, invited: bool = False) -> Refs:
    if invited:
        return Refs(users={f"E{n}": f"user{n}@corp.test" for n in numbers})
    return Refs(users={f"E{n}": f"E{n}" for n in numbers})


# --------------------------------------------------------------------------- learners


def test_create_costs_no_call_and_names_the_learner_by_the_external_id(harness):
    attrs = harness.user_attrs(1)
    create = ops.CreateUser(external_id="E1", match_value="user1@corp.test", attrs=attrs)
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [create])
    assert outcome.status is Status.DONE and outcome.remote_id == "E1"
    assert outcome.calls == PROFILE.calls_for("create_user") == 0
    assert outcome.detail == {"attrs": dict(attrs), "active": True}
    assert harness.requests() == 0


def test_assignment_is_one_registration_under_an_id_from_person_and_course(harness):
    with connect(harness.connection()) as connector:
        (first, second) = run(connector, assign(2, "C1", "C2"), refs_for(2))
    assert first.status is second.status is Status.DONE
    assert first.calls == second.calls == PROFILE.calls_for("assign_courses") == 1
    assert first.detail == {"course_ids": ["C1"]}
    found = {r["id"]: r["course"]["id"] for r in harness.registrations(learnerId="E2")}
    assert found == {registration_id("E2", "C1"): "C1", registration_id("E2", "C2"): "C2"}


def test_repeated_assignment_is_adopted_and_never_makes_a_second_registration(harness):
    with connect(harness.connection()) as connector:
        (first,) = run(connector, assign(3, "C1"), refs_for(3))
        (again,) = run(connector, assign(3, "C1"), refs_for(3))
    assert first.status is again.status is Status.DONE
    assert not first.adopted and again.adopted and again.calls == 1
    assert harness.creates() == {registration_id("E3", "C1"): 1}


def test_dropped_answer_is_retried_and_the_registration_adopted(harness):
    harness.running.admin.set_faults(drop_rate=1.0, methods=["POST"], max_faults=1)
    with connect(harness.connection()) as connector:
        (failed,) = run(connector, assign(4, "C1"), refs_for(4))
        (retried,) = run(connector, assign(4, "C1"), refs_for(4))
    assert failed.status is Status.RETRY and failed.attempted
    assert retried.status is Status.DONE
    assert len(harness.registrations(learnerId="E4")) == 1


def test_unknown_course_is_dead_with_the_vendors_reason(harness):
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, assign(5, "NOPE"), refs_for(5))
    assert outcome.status is Status.DEAD and "Could not find course [NOPE]" in outcome.error
    assert outcome.calls == 1


def test_learner_update_sends_the_complete_details_to_every_registration(harness):
    wanted = dict(harness.user_attrs(6, firstName="Renamed", lastName=""))
    update = ops.UpdateUser(
        external_id="E6",
        changes=(("firstName", "First6", "Renamed"), ("lastName", "Last6", "")),
        attrs=tuple(wanted.items()),
    )
    with connect(harness.connection()) as connector:
        run(connector, assign(6, "C1", "C2"), refs_for(6))
        (outcome,) = run(connector, [update], refs_for(6))
    assert outcome.status is Status.DONE and outcome.calls == 1
    assert outcome.detail == {"attrs": {"firstName": "Renamed", "lastName": ""}}
    harness.flush()
    learner = harness.remote_learners()["E6"]
    assert learner == {"id": "E6", **wanted}
    assert harness.counted("POST", "/learner/{learnerId}/updateInfo") == 1


def test_update_of_a_learner_without_registrations_is_done(harness):
    update = ops.UpdateUser(
        external_id="E7", changes=(("email", "a", "b@corp.test"),), attrs=harness.user_attrs(7)
    )
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [update], refs_for(7))
    assert outcome.status is Status.DONE and outcome.calls == 1


def test_missing_reference_is_dead_without_a_call(harness):
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, assign(8, "C1"))
    assert outcome.status is Status.DEAD and "E8" in outcome.error and outcome.calls == 0


def test_unassign_deletes_the_registration_and_a_repeat_is_done(harness):
    unassign = ops.UnassignCourse(external_id="E9", course_id="C1")
    with connect(harness.connection()) as connector:
        run(connector, assign(9, "C1", "C2"), refs_for(9))
        (gone, again) = run(connector, [unassign, unassign], refs_for(9))
    assert gone.status is again.status is Status.DONE and gone.calls == again.calls == 1
    assert harness.remote_courses("E9") == {"C2"}


# --------------------------------------------------------------------------- leavers


def test_leavers_kept_by_default_cost_no_call(harness):
    leave = ops.DeactivateUser(external_id="E10")
    back = ops.ReactivateUser(external_id="E10")
    with connect(harness.connection()) as connector:
        run(connector, assign(10, "C1"), refs_for(10))
        before = harness.requests()
        (off, on) = run(connector, [leave, back], refs_for(10))
    assert off.status is on.status is Status.DONE and off.calls == on.calls == 0
    assert off.detail == {"active": False} and on.detail == {"active": True}
    assert harness.requests() == before
    assert harness.remote_courses("E10") == {"C1"}


def test_delete_incomplete_keeps_only_completed_registrations(harness):
    leave = ops.DeactivateUser(external_id="E11")
    with connect(harness.connection(leavers="delete_incomplete")) as connector:
        run(connector, assign(11, "C1", "C2", "C3"), refs_for(11))
        harness.complete("E11", "C2")
        (off, again) = run(connector, [leave, leave], refs_for(11))
    assert off.status is again.status is Status.DONE
    assert off.calls == 1 + 2 and again.calls == 1
    assert harness.remote_courses("E11") == {"C2"}


def test_delete_user_deletes_every_registration(harness):
    with connect(harness.connection()) as connector:
        run(connector, assign(12, "C1", "C2"), refs_for(12))
        harness.complete("E12", "C1")
        (outcome,) = run(connector, [ops.DeleteUser(external_id="E12")], refs_for(12))
    assert outcome.status is Status.DONE and outcome.detail == {"deleted": True}
    assert harness.registrations(learnerId="E12") == []


def test_unknown_options_are_refused_with_the_key(harness):
    with pytest.raises(ConfigError, match=r"options\.leavers"):
        connect(harness.connection(leavers="shred"))
    with pytest.raises(ConfigError, match=r"options\.creating_user_email"):
        connect(harness.connection(assign_by="private_invitation"))


# --------------------------------------------------------------------------- invitations


def invited(**more: object) -> dict[str, object]:
    return {"assign_by": "private_invitation", "creating_user_email": "hr@corp.test", **more}


def test_private_invitation_job_is_followed_to_complete(harness):
    harness.settings(async_delay=0)
    create = ops.CreateUser(
        external_id="E20", match_value="m", attrs=harness.user_attrs(20), active=True
    )
    with connect(harness.connection(**invited())) as connector:
        (made,) = run(connector, [create])
        (first,) = run(connector, assign(20, "C1"), refs_for(20, invited=True))
        (again,) = run(connector, assign(20, "C1"), refs_for(20, invited=True))
    assert made.remote_id == "user20@corp.test"
    assert first.status is again.status is Status.DONE
    assert not first.adopted and again.adopted
    assert first.calls == again.calls == 2
    (registration,) = harness.registrations(learnerId="user20@corp.test")
    assert registration["course"]["id"] == "C1"


def test_private_invitation_still_sending_is_retried_then_adopted(harness):
    harness.settings(async_delay=3600)
    options = invited(job_polls=2, job_poll_seconds=0)
    with connect(harness.connection(**options)) as connector:
        (waiting,) = run(connector, assign(21, "C1"), refs_for(21, invited=True))
        harness.flush()
        (retried,) = run(connector, assign(21, "C1"), refs_for(21, invited=True))
        harness.flush()
    assert waiting.status is Status.RETRY and waiting.calls == 3 and waiting.retry_after
    assert retried.status is Status.RETRY
    harness.settings(async_delay=0)
    with connect(harness.connection(**options)) as connector:
        (done,) = run(connector, assign(21, "C1"), refs_for(21, invited=True))
    assert done.status is Status.DONE and done.adopted
    assert len(harness.registrations(learnerId="user21@corp.test")) == 1


def test_private_invitation_job_error_is_dead_with_its_errors(harness):
    harness.settings(async_delay=0)
    with connect(harness.connection(**invited())) as connector:
        (outcome,) = run(connector, assign(22, "C1"), Refs(users={"E22": "not-an-address"}))
    assert outcome.status is Status.DEAD
    assert "Invalid email address [not-an-address]" in outcome.error
    assert harness.registrations() == []


# --------------------------------------------------------------------------- listings


def test_listing_follows_more_to_the_end(harness):
    harness.settings(page_size=2)
    with connect(harness.connection()) as connector:
        for n in range(30, 35):
            run(connector, assign(n, "C1"), refs_for(n))
        run(connector, assign(30, "C2"), refs_for(30))
        before = harness.requests()
        users = {u.remote_id: u for u in connector.list_users()}
        pages = harness.requests() - before
        holders = set(connector.list_holders("course", "C1"))
        only = list(connector.list_holders("course", "C2"))
    assert set(users) == {f"E{n}" for n in range(30, 35)} and pages == 3
    assert users["E30"].match_value("employee_id") == "E30" and users["E30"].active
    assert holders == set(users) and only == ["E30"]
    assert list(connector.list_groups()) == []


# --------------------------------------------------------------------------- pacing


def test_rate_limit_answer_pauses_the_credential_and_spares_the_rest(harness):
    harness.running.admin.set_rate(3, 30.0)
    batch = [a for n in range(40, 46) for a in assign(n, "C1")]
    refs = refs_for(*range(40, 46))
    with connect(harness.connection(rate=(100, 2.0))) as connector:
        outcomes = run(connector, batch, refs)
    assert [o.status for o in outcomes[:3]] == [Status.DONE] * 3
    assert outcomes[3].status is Status.RETRY and outcomes[3].rate_limited
    assert all(not o.attempted and o.calls == 0 for o in outcomes[4:])
    assert harness.rate_limited() == 1


def test_paced_drain_gets_no_rate_limit_rejection(harness):
    harness.running.admin.set_rate(10, 0.5)
    batch = [a for n in range(50, 75) for a in assign(n, "C1")]
    with connect(harness.connection(rate=(10, 0.5))) as connector:
        outcomes = run(connector, batch, refs_for(*range(50, 75)))
    assert all(o.status is Status.DONE for o in outcomes)
    assert harness.rate_limited() == 0 and harness.requests() == 25


# --------------------------------------------------------------------------- secrets


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    syncd_log.configure(level="debug", fmt="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()


def test_no_secret_reaches_the_log_or_an_outcome(harness, captured_log):
    harness.running.admin.set_faults(error_rate=1.0, error_statuses=[500], max_faults=1)
    update = ops.UpdateUser(external_id="E60", changes=(), attrs=harness.user_attrs(60))
    with connect(harness.connection(leavers="delete_incomplete")) as connector:
        outcomes = run(
            connector, [*assign(60, "C1"), *assign(60, "C1"), *assign(60, "X")], refs_for(60)
        )
        outcomes += run(connector, [update, ops.DeactivateUser(external_id="E60")], refs_for(60))
        list(connector.list_users())
    text = captured_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("path") == "/registrations" for line in lines)
    for secret in harness.secrets:
        assert secret not in text
        assert all(secret not in repr(outcome) for outcome in outcomes)


# --------------------------------------------------------------------------- third party


def test_the_official_client_sees_the_synced_learners_and_registrations(harness):
    sc = pytest.importorskip("rustici_software_cloud_v2")
    update = ops.UpdateUser(external_id="E70", changes=(), attrs=harness.user_attrs(70))
    with connect(harness.connection()) as connector:
        run(connector, assign(70, "C1", "C2"), refs_for(70))
        run(connector, [update], refs_for(70))
    harness.flush()
    config = sc.Configuration()
    config.host = f"{harness.running.base_url}/api/v2/"
    config.username = harness.app_id
    config.password = harness.secret_key
    api = sc.RegistrationApi(sc.ApiClient(config))
    listed = api.get_registrations(learner_id="E70").registrations
    assert {r.id for r in listed} == {registration_id("E70", c) for c in ("C1", "C2")}
    assert {(r.learner.email, r.learner.first_name, r.learner.last_name) for r in listed} == {
        ("user70@corp.test", "First70", "Last70")
    }
