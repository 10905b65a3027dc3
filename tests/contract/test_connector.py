"""The contract every connector in REGISTRY keeps, proven against its simulator over HTTP.

Each test runs once per vendor in ``syncd.vendors.REGISTRY``; vendor specifics (fields,
seeding, reading back) come from ``tests/contract/kit.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from syncd import log as syncd_log
from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Op, Refs
from syncd.vendors import REGISTRY, Connector, connect
from syncd.vendors.base import Outcome, Status, Window
from tests.contract.kit import HARNESSES, LitmosHarness


@pytest.fixture(params=sorted(REGISTRY))
def harness(request: pytest.FixtureRequest, sandbox) -> Iterator[LitmosHarness]:
    forget_limiters()
    if request.param not in HARNESSES:
        pytest.fail(f"{request.param} is in REGISTRY but has no contract harness")
    yield HARNESSES[request.param](sandbox(request.param))
    forget_limiters()


def requires(harness: LitmosHarness, *capabilities: str) -> None:
    """Skip a test that needs a capability the vendor's profile does not declare."""
    profile = REGISTRY[harness.vendor].profile
    lacking = [name for name in capabilities if not getattr(profile, name)]
    if lacking:
        pytest.skip(f"{harness.vendor} has no {', '.join(lacking)}")


def run(connector: Connector, batch: Sequence[Op], refs: Refs | None = None) -> list[Outcome]:
    outcomes = list(connector.execute(batch, refs or Refs()))
    assert [o.key for o in outcomes] == [op.key for op in batch]
    return outcomes


def create(n: int, harness: LitmosHarness, **override: str) -> ops.CreateUser:
    attrs = harness.user_attrs(n, **override)
    fields = REGISTRY[harness.vendor].match_fields
    matched = fields.get("username") or fields["email"]
    return ops.CreateUser(external_id=f"E{n}", match_value=dict(attrs)[matched], attrs=attrs)


def created(connector: Connector, harness: LitmosHarness, *numbers: int) -> dict[str, str]:
    outcomes = run(connector, [create(n, harness) for n in numbers])
    assert all(o.status is Status.DONE for o in outcomes), outcomes
    return {f"E{n}": o.remote_id for n, o in zip(numbers, outcomes, strict=True)}


# --------------------------------------------------------------------------- users


def test_create_user_returns_the_remote_id_and_the_attrs_written(harness):
    requires(harness, "accounts")
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [create(1, harness)])
    assert outcome.status is Status.DONE and not outcome.adopted
    assert outcome.calls == connector.profile.calls_for("create_user")
    assert outcome.detail == {"attrs": dict(harness.user_attrs(1)), "active": True}
    remote = harness.remote_attrs(outcome.remote_id)
    assert {k: remote[k] for k in outcome.detail["attrs"]} == outcome.detail["attrs"]
    assert harness.creates() == {"user1@corp.test": 1}


def test_create_repeated_after_a_lost_answer_adopts_instead_of_creating_twice(harness):
    requires(harness, "accounts")
    with connect(harness.connection()) as connector:
        (first,) = run(connector, [create(1, harness)])
        (again,) = run(connector, [create(1, harness)])
    assert again.status is Status.DONE and again.adopted
    assert again.remote_id == first.remote_id
    assert harness.creates() == {"user1@corp.test": 1}


def test_account_made_by_hand_is_adopted_and_brought_in_line(harness):
    requires(harness, "accounts")
    remote_id = harness.seed_user(2)
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [create(2, harness)])
    assert outcome.status is Status.DONE and outcome.adopted
    assert outcome.remote_id == remote_id
    remote = harness.remote_attrs(remote_id)
    assert {k: remote[k] for k in dict(harness.user_attrs(2))} == dict(harness.user_attrs(2))
    assert harness.creates() == {}


def test_refused_user_is_dead_with_the_vendors_reason(harness):
    requires(harness, "accounts")
    op = ops.CreateUser(external_id="E0", match_value="ab", attrs=harness.bad_user_attrs())
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [op])
    assert outcome.status is Status.DEAD
    assert outcome.error and outcome.calls == 1
    assert harness.creates() == {}


def test_update_changes_only_the_named_fields_and_keeps_the_rest(harness):
    if REGISTRY[harness.vendor].profile.complete_updates:
        pytest.skip(f"{harness.vendor} updates send the complete details (its own tests)")
    with connect(harness.connection()) as connector:
        refs = Refs(users=created(connector, harness, 3))
        before = harness.remote_attrs(refs.users["E3"])
        change = ops.UpdateUser(external_id="E3", changes=(("JobTitle", "Engineer", "Manager"),))
        (outcome,) = run(connector, [change], refs)
    assert outcome.status is Status.DONE
    assert outcome.detail == {"attrs": {"JobTitle": "Manager"}}
    after = harness.remote_attrs(refs.users["E3"])
    assert after.pop("JobTitle") == "Manager"
    before.pop("JobTitle")
    assert after == before


def test_deactivate_and_reactivate_are_idempotent(harness):
    requires(harness, "accounts")
    with connect(harness.connection()) as connector:
        refs = Refs(users=created(connector, harness, 4))
        off = ops.DeactivateUser(external_id="E4")
        (first, second) = run(connector, [off, off], refs)
        assert not harness.remote_active(refs.users["E4"])
        (back,) = run(connector, [ops.ReactivateUser(external_id="E4")], refs)
    assert first.status is second.status is back.status is Status.DONE
    assert first.detail == {"active": False} and back.detail == {"active": True}
    if connector.profile.calls_for("deactivate_user") > 1:
        assert second.calls < first.calls  # a vendor that reads first skips the repeat write
    else:
        assert second.calls == first.calls
    assert harness.remote_active(refs.users["E4"])


def test_link_user_makes_no_call(harness):
    link = ops.LinkUser(
        external_id="E9", match_value="m", remote_id="R9", attrs=(("FirstName", "A"),), active=True
    )
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [link])
    assert outcome.status is Status.DONE and outcome.remote_id == "R9" and outcome.calls == 0
    assert harness.requests() == 0


def test_link_group_makes_no_call(harness):
    requires(harness, "groups")
    link = ops.LinkGroup(group_key="g/c", name="C", parent_key="g", remote_id="T2")
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [link], Refs(groups={"g": "T1"}))
    assert outcome.status is Status.DONE and outcome.adopted and outcome.calls == 0
    assert outcome.remote_id == "T2"
    assert outcome.detail == {"name": "C", "parent_remote_id": "T1"}
    assert harness.requests() == 0


def test_missing_reference_is_dead_without_a_call(harness):
    with connect(harness.connection()) as connector:
        (outcome,) = run(connector, [ops.DeactivateUser(external_id="nobody")])
    assert outcome.status is Status.DEAD and "nobody" in outcome.error
    assert outcome.calls == 0


# --------------------------------------------------------------------------- groups


def test_groups_and_sub_groups_are_created_and_adopted_on_repeat(harness):
    requires(harness, "groups")
    parent = ops.CreateGroup(group_key="dept:Sales", name="Sales")
    child = ops.CreateGroup(group_key="dept:Sales/EMEA", name="Sales EMEA", parent_key="dept:Sales")
    with connect(harness.connection()) as connector:
        (p,) = run(connector, [parent])
        refs = Refs(groups={"dept:Sales": p.remote_id})
        (c,) = run(connector, [child], refs)
        (p2, c2) = run(connector, [parent, child], refs)
        listed = {g.remote_id: g for g in connector.list_groups()}
    assert p.status is c.status is Status.DONE and not (p.adopted or c.adopted)
    assert (p2.remote_id, c2.remote_id) == (p.remote_id, c.remote_id)
    assert p2.adopted and c2.adopted
    assert harness.remote_team(c.remote_id) == {"name": "Sales EMEA", "parent": p.remote_id}
    assert listed[c.remote_id].parent_remote_id == p.remote_id
    assert listed[p.remote_id].parent_remote_id == ""
    assert c.detail == {"name": "Sales EMEA", "parent_remote_id": p.remote_id}


def test_members_are_added_in_one_call_and_removed_one_by_one(harness):
    requires(harness, "groups")
    with connect(harness.connection()) as connector:
        users = created(connector, harness, 11, 12, 13)
        (team,) = run(connector, [ops.CreateGroup(group_key="t", name="Team T")])
        refs = Refs(users=users, groups={"t": team.remote_id})
        add = ops.AddMembers(group_key="t", external_ids=("E11", "E12", "E13"))
        (added,) = run(connector, [add], refs)
        (again,) = run(connector, [add], refs)
        (removed,) = run(connector, [ops.RemoveMember(group_key="t", external_id="E12")], refs)
        (gone,) = run(connector, [ops.RemoveMember(group_key="t", external_id="E12")], refs)
    assert added.status is again.status is removed.status is gone.status is Status.DONE
    per_call = connector.profile.max_members_per_call or 3
    assert added.calls == -(-3 // per_call) and added.detail == {"added": ["E11", "E12", "E13"]}
    assert harness.remote_members(team.remote_id) == {users["E11"], users["E13"]}


def test_group_rename_is_written(harness):
    requires(harness, "groups")
    with connect(harness.connection()) as connector:
        (team,) = run(connector, [ops.CreateGroup(group_key="g", name="Old name")])
        refs = Refs(groups={"g": team.remote_id})
        (renamed,) = run(connector, [ops.UpdateGroup(group_key="g", name="New name")], refs)
    assert renamed.status is Status.DONE
    assert harness.remote_team(team.remote_id)["name"] == "New name"


# --------------------------------------------------------------------------- assignments


def test_courses_and_learning_paths_are_assigned_in_one_call_each(harness):
    requires(harness, "learning_paths")
    course_ids = harness.seed_courses("C1", "C2", "C3")
    path_id = harness.seed_learning_path("Onboarding", "C3")
    with connect(harness.connection()) as connector:
        refs = Refs(users=created(connector, harness, 21))
        courses = ops.AssignCourses(external_id="E21", course_ids=tuple(course_ids[:2]))
        paths = ops.AssignLearningPaths(external_id="E21", learning_path_ids=(path_id,))
        (c, p) = run(connector, [courses, paths], refs)
        unassign = ops.UnassignCourse(external_id="E21", course_id=course_ids[0])
        (u,) = run(connector, [unassign], refs)
        remote = refs.users["E21"]
        assert harness.remote_courses(remote) == {course_ids[1], course_ids[2]}
        assert harness.remote_learning_paths(remote) == {path_id}
        drop_path = ops.UnassignLearningPath(external_id="E21", learning_path_id=path_id)
        (d, again) = run(connector, [drop_path, drop_path], refs)
    assert c.status is p.status is u.status is d.status is again.status is Status.DONE
    assert c.calls == 1 and p.calls == 1 and d.calls == 1
    assert harness.remote_learning_paths(remote) == set()


# --------------------------------------------------------------------------- listings


def test_listings_walk_every_page(harness):
    requires(harness, "accounts")
    harness.seed(
        {
            "users": [
                {"username": f"seed{i}@corp.test", "first_name": "S", "last_name": f"L{i}"}
                for i in range(25)
            ]
        }
    )
    with connect(harness.connection(page_size=10)) as connector:
        users = list(connector.list_users())
    assert len({u.remote_id for u in users}) == 25
    assert {u.username for u in users} == {f"seed{i}@corp.test" for i in range(25)}
    assert all(u.match_value("username") == u.username for u in users)
    assert harness.requests() == 3


def test_listed_users_carry_no_secret(harness):
    requires(harness, "accounts")
    remote_id = harness.seed_user(5)
    login_key = harness.account_secret(remote_id)
    with connect(harness.connection()) as connector:
        (user,) = list(connector.list_users())
    assert user.remote_id == remote_id
    assert login_key and login_key not in repr(user)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "faults, timeout",
    [
        ({"error_rate": 1.0, "error_statuses": [500]}, 5.0),
        ({"error_rate": 1.0, "error_statuses": [502, 504]}, 5.0),
        ({"drop_rate": 1.0}, 5.0),
        ({"slow_rate": 1.0, "slow_seconds": 1.0}, 0.3),
    ],
    ids=["500", "502-504", "dropped", "timeout"],
)
def test_transient_failures_are_retryable_then_succeed(harness, faults, timeout):
    requires(harness, "accounts")
    harness.running.admin.set_faults(
        **faults, methods=[harness.create_method], max_faults=1, seed=3
    )
    with connect(harness.connection(timeout=timeout)) as connector:
        (failed,) = run(connector, [create(31, harness)])
        (retried,) = run(connector, [create(31, harness)])
    assert failed.status is Status.RETRY and failed.calls == 1 and failed.attempted
    assert retried.status is Status.DONE
    assert sum(harness.creates().values()) == 1


def test_garbled_create_answer_is_retried_and_the_account_adopted(harness):
    requires(harness, "accounts")
    harness.running.admin.set_faults(
        malformed_rate=1.0, methods=[harness.create_method], max_faults=1
    )
    with connect(harness.connection()) as connector:
        (failed,) = run(connector, [create(32, harness)])
        (retried,) = run(connector, [create(32, harness)])
    assert failed.status is Status.RETRY
    assert retried.status is Status.DONE and retried.adopted
    assert harness.creates() == {"user32@corp.test": 1}


def test_rate_limit_answer_pauses_the_credential_and_spares_the_rest_of_the_batch(harness):
    requires(harness, "accounts")
    harness.running.admin.set_rate(3 + harness.setup_requests, 30.0)
    batch = [create(n, harness) for n in range(40, 46)]
    with connect(harness.connection(rate=(100, 2.0))) as connector:
        outcomes = run(connector, batch)
        paused = connector.client.limiter.paused_for()
    assert [o.status for o in outcomes[:3]] == [Status.DONE] * 3
    assert outcomes[3].status is Status.RETRY and outcomes[3].attempted
    assert all(not o.attempted and o.calls == 0 for o in outcomes[4:])
    assert all(o.status is Status.RETRY and o.retry_after for o in outcomes[3:])
    assert 0 < paused <= 2.0
    assert harness.rate_limited() == 1


def test_paced_drain_gets_no_rate_limit_rejection(harness):
    requires(harness, "accounts")
    harness.running.admin.set_rate(10, 0.5)
    batch = [create(n, harness) for n in range(100, 130)]
    with connect(harness.connection(rate=(10, 0.5))) as connector:
        outcomes = run(connector, batch)
    assert all(o.status is Status.DONE for o in outcomes)
    assert harness.rate_limited() == 0
    assert harness.requests() == 30


# --------------------------------------------------------------------------- results


def test_results_in_a_window(harness):
    if REGISTRY[harness.vendor].results is Connector.results:
        pytest.skip(f"{harness.vendor} has no result pull yet")
    (course_id,) = harness.seed_courses("R1")
    with connect(harness.connection()) as connector:
        refs = Refs(users=created(connector, harness, 51))
        run(connector, [ops.AssignCourses(external_id="E51", course_ids=(course_id,))], refs)
        done_at = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)
        harness.complete(refs.users["E51"], "R1", done_at.isoformat())
        second = timedelta(seconds=1)
        span = connector.result_span or timedelta(days=20)
        before = harness.requests()
        inside = list(connector.results(Window(done_at + second - span, done_at + second)))
        reads = harness.requests() - before
        before = harness.requests()
        outside = list(connector.results(Window(done_at + second, done_at + timedelta(days=1))))
        empty_reads = harness.requests() - before
    (record,) = inside
    assert record.remote_user_id == refs.users["E51"]
    assert course_id in (record.item_id, record.course_id)
    assert record.completed and record.completed_at == done_at
    assert record.updated_at == done_at
    scans = REGISTRY[harness.vendor].result_scan
    assert outside == (inside if scans else []), "a scan reads everything, whatever the window"
    assert reads == empty_reads, "a window of one record costs what an empty one does"


# --------------------------------------------------------------------------- secrets


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    syncd_log.configure(level="debug", fmt="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()


def test_no_secret_reaches_the_log_or_an_outcome(harness, captured_log):
    requires(harness, "accounts")
    remote_id = harness.seed_user(61)
    login_key = harness.account_secret(remote_id)
    assert login_key
    harness.running.admin.set_faults(error_rate=1.0, error_statuses=[500], max_faults=1)
    with connect(harness.connection()) as connector:
        outcomes = run(connector, [create(61, harness), create(61, harness), create(62, harness)])
        outcomes += run(
            connector,
            [ops.UpdateUser(external_id="E61", changes=(("JobTitle", "", "Boss"),))],
            Refs(users={"E61": remote_id}),
        )
        list(connector.list_users())
    text = captured_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("path") == harness.users_path for line in lines)
    for secret in [*harness.secrets, login_key]:
        assert secret not in text
        assert all(secret not in repr(outcome) for outcome in outcomes)
