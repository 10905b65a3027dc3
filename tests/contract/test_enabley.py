"""Enabley beyond the shared contract: the token's life, error codes, hierarchy, channels.

Against the Enabley simulator over loopback HTTP (``EnableyHarness``); call counts come
from the simulator's own counters, not from the connector.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from syncd import log as syncd_log
from syncd.errors import ConfigError, CredentialRefused
from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Refs
from syncd.vendors import connect
from syncd.vendors.base import Status
from syncd.vendors.enabley import EnableyConnector
from syncd.vendors.enabley.connector import group_identifier
from tests.contract.kit import EnableyHarness


@pytest.fixture
def harness(sandbox) -> Iterator[EnableyHarness]:
    forget_limiters()
    yield EnableyHarness(sandbox("enabley"))
    forget_limiters()


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    syncd_log.configure(level="debug", fmt="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()


def create(n: int, harness: EnableyHarness, **override: str) -> ops.CreateUser:
    attrs = harness.user_attrs(n, **override)
    return ops.CreateUser(external_id=f"E{n}", match_value=dict(attrs)["username"], attrs=attrs)


def enabley(harness: EnableyHarness, **options: object) -> EnableyConnector:
    connector = connect(harness.connection(**options))  # type: ignore[arg-type]
    assert isinstance(connector, EnableyConnector)
    return connector


class Clock:
    """A monotonic clock the test moves on, for the connector's token renewal."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- the token


def test_one_token_serves_many_calls_and_is_never_an_ops_call(harness):
    with enabley(harness) as connector:
        outcomes = list(connector.execute([create(n, harness) for n in range(1, 6)], Refs()))
    assert [o.calls for o in outcomes] == [1] * 5
    assert harness.tokens() == 1 and harness.requests() == 5
    (token_call,) = [e for e in harness.log() if e["path"] == "/api/v1/token"]
    assert "secret=***" in token_call["query"] and harness.secret not in token_call["query"]


def test_token_is_renewed_before_its_announced_lifetime_runs_out(harness):
    harness.settings(token_lifetime_seconds=100)
    clock = Clock()
    with enabley(harness) as connector:
        connector.token.clock = clock
        list(connector.execute([create(1, harness)], Refs()))
        clock.now += 79  # 79 % of 100 s: still the first token
        list(connector.execute([create(2, harness)], Refs()))
        assert harness.tokens() == 1
        clock.now += 2  # past 80 %: renewed before the call, never refused
        (third,) = connector.execute([create(3, harness)], Refs())
    assert third.status is Status.DONE and third.calls == 1
    assert harness.tokens() == 2
    assert harness.counted("PUT", "/api/v2/users") == 3  # not one 401 among them


def test_token_expired_mid_run_is_renewed_once_and_the_op_done(harness):
    with enabley(harness) as connector:
        (first,) = connector.execute([create(1, harness)], Refs())
        harness.running.admin.post("/clock", {"advance_seconds": 7200})  # server-side expiry
        (second,) = connector.execute([create(2, harness)], Refs())
    assert first.status is second.status is Status.DONE
    assert second.calls == 2  # the refused call and its repeat: both reached the vendor
    assert harness.tokens() == 2
    statuses = [e["status"] for e in harness.log() if e["path"] == "/api/v2/users"]
    assert statuses == [201, 401, 201]
    assert harness.creates() == {"user1@corp.test": 1, "user2@corp.test": 1}


def test_a_second_401_stops_the_drain(harness):
    harness.settings(token_lifetime_seconds=0)  # every token is expired when it arrives
    with enabley(harness) as connector, pytest.raises(CredentialRefused) as refused:
        list(connector.execute([create(1, harness), create(2, harness)], Refs()))
    assert "access_denied" in str(refused.value)
    assert harness.tokens() == 2 and harness.requests() == 2
    assert harness.secret not in str(refused.value)


def test_a_wrong_secret_stops_the_drain_without_an_api_call(harness):
    connection = harness.connection().model_copy(
        update={
            "credentials": {
                "client_id": harness.connection().credentials["client_id"],
                "client_secret": harness.connection()
                .credentials["client_secret"]
                .__class__("wrong-secret-xyz"),
            }
        }
    )
    with connect(connection) as connector, pytest.raises(CredentialRefused) as refused:
        list(connector.execute([create(1, harness)], Refs()))
    assert "invalid_client" in str(refused.value)
    assert "wrong-secret-xyz" not in str(refused.value)
    assert harness.requests() == 0


def test_no_token_or_secret_reaches_the_log_or_an_outcome(harness, captured_log):
    remote_id = harness.seed_user(61)
    harness.running.admin.set_faults(
        error_rate=1.0, error_statuses=[500], methods=["PUT"], max_faults=1
    )
    with enabley(harness) as connector:
        outcomes = list(connector.execute([create(61, harness), create(61, harness)], Refs()))
        harness.running.admin.post("/clock", {"advance_seconds": 7200})
        outcomes += list(
            connector.execute(
                [ops.DeactivateUser(external_id="E61")], Refs(users={"E61": remote_id})
            )
        )
        users = list(connector.list_users())
        token = connector.token.headers()["Authorization"].split()[1]
    text = captured_log.getvalue()
    assert [json.loads(line) for line in text.splitlines()]
    for secret in [harness.secret, token, harness.account_secret(remote_id)]:
        assert secret and secret not in text
        assert all(secret not in repr(o) for o in outcomes)
        assert all(secret not in repr(u) for u in users)


# --------------------------------------------------------------------------- users


def test_upsert_by_identifier_adopts_an_account_with_the_hris_key(harness):
    harness.seed_user(7, identifier="E7", firstName="Old")
    with enabley(harness) as connector:
        (outcome,) = connector.execute([create(7, harness)], Refs())
    assert outcome.status is Status.DONE and outcome.adopted and outcome.remote_id == "E7"
    assert outcome.calls == 1
    assert harness.remote_attrs("E7")["firstName"] == "First7"
    assert harness.creates() == {}


def test_username_held_by_another_identifier_is_found_exactly_and_adopted(harness):
    harness.seed_user(70, username="user8@corp.test.old")  # a substring decoy
    hand = harness.seed_user(8)
    with enabley(harness) as connector:
        (outcome,) = connector.execute([create(8, harness)], Refs())
    assert outcome.status is Status.DONE and outcome.adopted and outcome.remote_id == hand
    assert outcome.calls == 3  # the refused upsert, the exact lookup, the upsert of `hand`
    assert harness.remote_attrs(hand)["JobTitle"] == "Engineer"
    assert harness.creates() == {}


def test_update_sends_the_complete_details_so_no_custom_attribute_is_lost(harness):
    with enabley(harness) as connector:
        (made,) = connector.execute([create(3, harness, Site="Paris")], Refs())
        refs = Refs(users={"E3": made.remote_id})
        complete = dict(harness.user_attrs(3, Site="Paris", JobTitle="Manager"))
        change = ops.UpdateUser(
            external_id="E3",
            changes=(("JobTitle", "Engineer", "Manager"),),
            attrs=tuple(complete.items()),
        )
        (outcome,) = connector.execute([change], refs)
        (bare,) = connector.execute(
            [ops.UpdateUser(external_id="E3", changes=(("Site", "Paris", "Lyon"),))], refs
        )
    assert outcome.status is bare.status is Status.DONE
    assert outcome.calls == 1 and outcome.detail == {"attrs": {"JobTitle": "Manager"}}
    assert bare.calls == 2  # without attrs: the custom attributes are read first
    after = harness.remote_attrs(made.remote_id)
    assert (after["JobTitle"], after["Site"], after["firstName"]) == ("Manager", "Lyon", "First3")


def test_leaver_and_returner_cost_one_call_each(harness):
    with enabley(harness) as connector:
        (made,) = connector.execute([create(4, harness)], Refs())
        refs = Refs(users={"E4": made.remote_id})
        (off,) = connector.execute([ops.DeactivateUser(external_id="E4")], refs)
        assert not harness.remote_active("E4")
        (on,) = connector.execute([ops.ReactivateUser(external_id="E4")], refs)
    assert off.calls == on.calls == 1 and harness.remote_active("E4")


def test_sub_account_users_and_groups_are_written_and_listed_there(harness):
    harness.seed({"subAccounts": ["sandbox", "east"]})
    harness.seed_user(90)  # in the account, not in `east`
    with enabley(harness, sub_account="east") as connector:
        (made,) = connector.execute([create(9, harness)], Refs())
        (group,) = connector.execute([ops.CreateGroup(group_key="org:East", name="East")], Refs())
        users = [u.remote_id for u in connector.list_users()]
        groups = [g.remote_id for g in connector.list_groups()]
    assert users == [made.remote_id] and groups == [group.remote_id]
    assert harness.remote_user(made.remote_id)["userSubAccountNames"] == ["east"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("general_error", 500, Status.RETRY),
        ("invalid_request", 400, Status.DEAD),
        ("item_not_exists", 400, Status.DEAD),
    ],
)
def test_error_codes_map_to_retry_or_dead(harness, code, status, expected):
    """The simulator answers these codes itself; each is provoked by a real request."""
    with enabley(harness) as connector:
        refs = Refs(users={"E1": "nobody"}, groups={"g": "no-group"})
        if code == "general_error":
            harness.running.admin.set_faults(error_rate=1.0, error_statuses=[500], max_faults=1)
            op: ops.Op = create(1, harness)
        elif code == "invalid_request":
            op = create(1, harness, email="not-an-address")
        else:
            op = ops.AddMembers(group_key="g", external_ids=("E1",))
        (outcome,) = connector.execute([op], refs)
    assert outcome.status is expected, outcome
    assert str(status) in outcome.error and (code in outcome.error or status == 500)


def test_rate_limit_answer_is_rate_limited_not_a_failure(harness):
    harness.running.admin.set_rate(2, 30.0)
    with enabley(harness, rate=(100, 2.0)) as connector:
        outcomes = list(connector.execute([create(n, harness) for n in (1, 2, 3)], Refs()))
    assert [o.status for o in outcomes] == [Status.DONE, Status.RETRY, Status.RETRY]
    assert outcomes[1].rate_limited and "service_unavailable" in outcomes[1].error
    assert not outcomes[2].attempted


def test_removals_of_what_is_not_there_are_done(harness):
    harness.seed_courses("C1")
    with enabley(harness) as connector:
        (made,) = connector.execute([create(1, harness)], Refs())
        refs = Refs(users={"E1": made.remote_id}, groups={"g": "gone-group"})
        (member,) = connector.execute([ops.RemoveMember(group_key="g", external_id="E1")], refs)
        (course,) = connector.execute([ops.UnassignCourse(external_id="E1", course_id="C1")], refs)
    assert member.status is course.status is Status.DONE
    assert member.calls == course.calls == 1


# --------------------------------------------------------------------------- groups, channels


def test_groups_take_the_hierarchy_level_of_their_depth(harness):
    tree = [
        ops.CreateGroup(group_key="org:Sales", name="Sales"),
        ops.CreateGroup(group_key="org:Sales/EMEA", name="EMEA", parent_key="org:Sales"),
        ops.CreateGroup(
            group_key="org:Sales/EMEA/Paris", name="Paris", parent_key="org:Sales/EMEA"
        ),
    ]
    refs = Refs(groups={op.group_key: group_identifier(op.group_key) for op in tree})
    with enabley(harness) as connector:
        outcomes = list(connector.execute(tree, refs))
        hierarchy_reads = harness.counted("GET", "/api/v1/groups/hierarchy")
        listed = {g.remote_id: g for g in connector.list_groups()}
    assert [o.calls for o in outcomes] == [1, 1, 1] and hierarchy_reads == 1
    types = [harness._api(f"/api/v1/groups/{o.remote_id}")["type"] for o in outcomes]
    assert types == ["COMPANY", "DIVISION", "DEPARTMENT"]
    assert listed[outcomes[2].remote_id].parent_remote_id == outcomes[1].remote_id


def test_a_group_deeper_than_the_hierarchy_is_dead_with_a_clear_reason(harness):
    op = ops.CreateGroup(group_key="org:A/B/C", name="C", parent_key="org:A/B")
    with enabley(harness, group_types="TOP,BOTTOM") as connector:
        (outcome,) = connector.execute([op], Refs(groups={"org:A/B": "x"}))
    assert outcome.status is Status.DEAD and "3 levels deep" in outcome.error
    assert outcome.calls == 0 and harness.requests() == 0


def test_channels_are_assigned_one_per_call_with_the_configured_role(harness):
    harness.seed_courses("C1", "C2")
    with enabley(harness, role="INSTRUCTOR") as connector:
        (made,) = connector.execute([create(1, harness)], Refs())
        refs = Refs(users={"E1": made.remote_id})
        assigned = list(
            connector.execute(
                [ops.AssignCourses(external_id="E1", course_ids=(c,)) for c in ("C1", "C2")],
                refs,
            )
        )
    assert [o.calls for o in assigned] == [1, 1]
    posts = [e for e in harness.log() if e["method"] == "POST" and "/channels/" in e["path"]]
    assert [e["query"] for e in posts] == ["roles=INSTRUCTOR"] * 2
    channel = harness.running.simulator.account.channels["C1"]
    assert channel.users == {made.remote_id: {"INSTRUCTOR"}}


def test_learners_are_assigned_and_unassigned(harness):
    harness.seed_courses("C1", "C2")
    with enabley(harness) as connector:
        (made,) = connector.execute([create(1, harness)], Refs())
        refs = Refs(users={"E1": made.remote_id})
        batch = [ops.AssignCourses(external_id="E1", course_ids=(c,)) for c in ("C1", "C2")]
        list(connector.execute(batch, refs))
        assert harness.remote_courses(made.remote_id) == {"C1", "C2"}
        (gone,) = connector.execute([ops.UnassignCourse(external_id="E1", course_id="C1")], refs)
    assert gone.status is Status.DONE and gone.calls == 1
    assert harness.remote_courses(made.remote_id) == {"C2"}


def test_members_cannot_be_listed(harness):
    with enabley(harness) as connector, pytest.raises(NotImplementedError):
        list(connector.list_members("any"))
    with enabley(harness, full_memberships=False) as connector, pytest.raises(NotImplementedError):
        list(connector.list_members("any"))
    assert harness.requests() == 0


USER_GROUPS = "/api/v1/users/{identifier}/groups"


def two_teams(harness: EnableyHarness) -> tuple[str, str]:
    """E1, E2 in team A; E2, E3 in team B; E4 in A but deactivated; hand-90 in no team."""
    harness.seed_user(90)
    teams = [ops.CreateGroup(group_key=f"org:{t}", name=t) for t in "AB"]
    refs = Refs(
        users={f"E{n}": f"E{n}" for n in range(1, 5)},
        groups={op.group_key: group_identifier(op.group_key) for op in teams},
    )
    batch: list[ops.Op] = [create(n, harness) for n in range(1, 5)]
    batch += teams
    batch += [
        ops.AddMembers(group_key="org:A", external_ids=("E1", "E2", "E4")),
        ops.AddMembers(group_key="org:B", external_ids=("E2", "E3")),
        ops.DeactivateUser(external_id="E4"),
    ]
    with enabley(harness) as connector:
        assert all(o.status is Status.DONE for o in connector.execute(batch, refs))
    return refs.groups["org:A"], refs.groups["org:B"]


def test_members_are_listed_per_group_from_each_active_users_groups(harness):
    team_a, team_b = two_teams(harness)
    harness.running.admin.reset(data=False)
    with enabley(harness, full_memberships=True) as connector:
        users = list(connector.list_users())
        after_users = connector.client.calls.total
        assert harness.counted("GET", USER_GROUPS) == 0, "read only when members are asked"
        members = {t: set(connector.list_members(t)) for t in (team_a, team_b, "no-team")}
        spent = connector.client.calls.total - after_users
    assert members == {team_a: {"E1", "E2"}, team_b: {"E2", "E3"}, "no-team": set()}
    active = [u.remote_id for u in users if u.active]
    assert sorted(active) == ["E1", "E2", "E3", "hand-90"]
    assert spent == harness.counted("GET", USER_GROUPS) == len(active) == 4, "one per user"
    assert harness.counted("GET", "/api/v3/users") == 1, "the users are not listed again"
    reads = [e["path"] for e in harness.log() if e["path"].startswith("/api/v1/users/")]
    assert sorted(reads) == [f"/api/v1/users/{u}/groups" for u in sorted(active)]


def test_members_without_a_user_listing_list_the_users_themselves(harness):
    team_a, _ = two_teams(harness)
    harness.running.admin.reset(data=False)
    with enabley(harness, full_memberships="yes") as connector:
        assert set(connector.list_members(team_a)) == {"E1", "E2"}
        assert connector.client.calls.total == 1 + 4
        harness.running.simulator.account.groups[team_a].members.discard("E1")  # by hand
        assert set(connector.list_members(team_a)) == {"E1", "E2"}, "cached for the listing"
        list(connector.list_users())  # a new listing reads the groups again
        assert set(connector.list_members(team_a)) == {"E2"}
        assert connector.client.calls.total == 2 * (1 + 4)
    assert harness.counted("GET", USER_GROUPS) == 8 and harness.requests() == 10


def test_a_full_memberships_value_that_is_not_a_yes_or_no_is_refused(harness):
    with pytest.raises(ConfigError, match=r"options\.full_memberships must be true or false"):
        enabley(harness, full_memberships="sometimes")


def test_listing_follows_pagination_keys(harness):
    harness.seed({"users": [{"username": f"s{i}@corp.test"} for i in range(7)]})
    with enabley(harness, page_size=3) as connector:
        users = list(connector.list_users())
    assert len(users) == 7 and harness.counted("GET", "/api/v3/users") == 3
    assert all(u.match_value("employee_id") == u.remote_id for u in users)
