"""The connectors' list forms against their simulators over loopback HTTP: a SCORM Cloud
private invitation to many addresses (one POST, its job status read, refused addresses
left out of what is confirmed) and an Enabley mover replaced in one call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Refs
from syncd.vendors import connect
from syncd.vendors.base import Status
from syncd.vendors.enabley.connector import group_identifier
from syncd.vendors.scormcloud.wire import invitation_outcome
from tests.contract.kit import EnableyHarness, ScormCloudHarness

INVITED = {"assign_by": "private_invitation", "creating_user_email": "hr@corp.test"}


@pytest.fixture
def scorm(sandbox) -> Iterator[ScormCloudHarness]:
    forget_limiters()
    found = ScormCloudHarness(sandbox("scormcloud"))
    found.seed_courses("C1")
    found.settings(async_delay=0)
    yield found
    forget_limiters()


@pytest.fixture
def enabley(sandbox) -> Iterator[EnableyHarness]:
    forget_limiters()
    yield EnableyHarness(sandbox("enabley"))
    forget_limiters()


def people(*numbers: int) -> ops.AssignCoursePeople:
    return ops.AssignCoursePeople(course_id="C1", external_ids=tuple(f"E{n}" for n in numbers))


def addresses(**by_person: str) -> Refs:
    return Refs(users=by_person)


def test_one_invitation_registers_every_address_for_two_calls(scorm):
    refs = addresses(**{f"E{n}": f"user{n}@corp.test" for n in range(1, 6)})
    with connect(scorm.connection(**INVITED)) as connector:
        (outcome,) = connector.execute([people(1, 2, 3, 4, 5)], refs)
    assert outcome.status is Status.DONE and outcome.calls == 2
    assert outcome.detail == {"course_ids": ["C1"], "added": [f"E{n}" for n in range(1, 6)]}
    assert scorm.counted("POST", "/invitations/private") == 1
    learners = {r["learner"]["id"] for r in scorm.registrations(courseId="C1")}
    assert learners == {f"user{n}@corp.test" for n in range(1, 6)}


def test_refused_addresses_are_left_out_and_the_existing_count_as_done(scorm):
    scorm.seed_registration("by-hand", "C1", {"id": "user2@corp.test"})
    refs = addresses(E1="user1@corp.test", E2="user2@corp.test", E3="not-an-address")
    with connect(scorm.connection(**INVITED)) as connector:
        (outcome,) = connector.execute([people(1, 2, 3)], refs)
        (again,) = connector.execute([people(1, 2)], refs)
    assert outcome.status is Status.DONE and not outcome.adopted
    assert outcome.detail == {"course_ids": ["C1"], "added": ["E1", "E2"], "refused": ["E3"]}
    assert again.status is Status.DONE and again.adopted, "a repeat registers nobody twice"
    held = sorted(r["learner"]["id"] for r in scorm.registrations(courseId="C1"))
    assert held == ["user1@corp.test", "user2@corp.test"]


def test_an_invitation_refused_for_everyone_is_dead_with_the_reasons(scorm):
    refs = addresses(E1="bad-one", E2="bad-two")
    with connect(scorm.connection(**INVITED)) as connector:
        (outcome,) = connector.execute([people(1, 2)], refs)
    assert outcome.status is Status.DEAD
    assert "Invalid email address [bad-one]" in outcome.error
    assert "Invalid email address [bad-two]" in outcome.error


def test_a_job_still_sending_is_retried_and_the_repeat_adopts_what_it_sent(scorm):
    scorm.settings(async_delay=3600)
    refs = addresses(E1="user1@corp.test", E2="user2@corp.test")
    options = {**INVITED, "job_polls": 2, "job_poll_seconds": 0}
    with connect(scorm.connection(**options)) as connector:
        (waiting,) = connector.execute([people(1, 2)], refs)
    assert waiting.status is Status.RETRY and waiting.calls == 3
    scorm.flush()
    scorm.settings(async_delay=0)
    with connect(scorm.connection(**options)) as connector:
        (done,) = connector.execute([people(1, 2)], refs)
    assert done.status is Status.DONE and done.adopted
    assert len(scorm.registrations(courseId="C1")) == 2


def test_errors_are_matched_to_whole_addresses_only():
    sent = invitation_outcome(
        "I1",
        ["a@x.test", "ba@x.test", "c@x.test"],
        True,
        ["Invalid email address [ba@x.test]", "Registration for [C@X.test] already exists"],
    )
    assert dict(sent.failed) == {"ba@x.test": "Invalid email address [ba@x.test]"}
    assert sent.existing == {"c@x.test"} and sent.unplaced == ()
    failed = invitation_outcome("I2", ["a@x.test"], False, ["Could not find course [C9]"])
    assert dict(failed.failed) == {"a@x.test": "Could not find course [C9]"}


def test_a_mover_is_replaced_in_one_call_dropping_every_other_group(enabley):
    teams = [ops.CreateGroup(group_key=f"org:{t}", name=t) for t in "ABC"]
    refs = Refs(
        users={"E1": "E1"}, groups={op.group_key: group_identifier(op.group_key) for op in teams}
    )
    create = ops.CreateUser(external_id="E1", match_value="m", attrs=enabley.user_attrs(1))
    setup = [
        create,
        *teams,
        ops.AddMembers(group_key="org:A", external_ids=("E1",)),
        ops.AddMembers(group_key="org:C", external_ids=("E1",)),
    ]
    move = ops.ReplaceMemberships(external_id="E1", group_key="org:B", removed=("org:A",))
    with connect(enabley.connection(memberships="replace")) as connector:
        assert all(o.status is Status.DONE for o in connector.execute(setup, refs))
        before = enabley.requests()
        (outcome,) = connector.execute([move], refs)
    assert outcome.status is Status.DONE and outcome.calls == 1 == enabley.requests() - before
    account = enabley.running.simulator.account
    held = {key for key, g in account.groups.items() if "E1" in g.members}
    assert held == {group_identifier("org:B")}, "org:C, made outside the plan, is gone too"
    last = [e for e in enabley.log() if e["method"] == "POST"][-1]
    assert last["path"].endswith("/users/E1") and "replace=true" in last["query"]
