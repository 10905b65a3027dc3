"""The Litmos listings a full reconcile makes, against the simulator over loopback HTTP.

Team members and the holders of a course or learning path are listed per team and per
item (not per person), paged like every Litmos list; these tests check what they return
and what they cost in calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Refs
from syncd.vendors import connect
from syncd.vendors.base import Connector, Status
from tests.contract.kit import LitmosHarness


@pytest.fixture
def litmos(litmos_sandbox) -> Iterator[LitmosHarness]:
    forget_limiters()
    yield LitmosHarness(litmos_sandbox)
    forget_limiters()


@pytest.fixture
def connected(litmos) -> Iterator[Callable[..., Connector]]:
    """Connectors to the simulator with the given options, closed after the test."""
    made: list[Connector] = []
    litmos.running.admin.set_rate(1000, 1.0)

    def make(**options: object) -> Connector:
        made.append(connect(litmos.connection(rate=(1000, 1.0), **options)))
        return made[-1]

    yield make
    for connector in made:
        connector.close()


def run(connector: Connector, op: ops.Op, refs: Refs) -> str | None:
    (outcome,) = connector.execute([op], refs)
    assert outcome.status is Status.DONE, outcome.error
    return outcome.remote_id


def company(litmos: LitmosHarness, connector: Connector, people: int) -> tuple[Refs, str, str]:
    """``people`` accounts in one team, each with one course and one learning path."""
    course, _in_path = litmos.seed_courses("C1", "C2")
    path = litmos.seed_learning_path("LP", "C2")
    refs = Refs(users={}, groups={})
    for n in range(people):
        attrs = litmos.user_attrs(n)
        create = ops.CreateUser(
            external_id=f"E{n}", match_value=dict(attrs)["UserName"], attrs=attrs
        )
        refs.users[f"E{n}"] = run(connector, create, refs) or ""
    refs.groups["T"] = (
        run(connector, ops.CreateGroup(group_key="T", name="Team", parent_key=""), refs) or ""
    )
    everyone = tuple(refs.users)
    run(connector, ops.AddMembers(group_key="T", external_ids=everyone), refs)
    for person in everyone:
        run(connector, ops.AssignCourses(external_id=person, course_ids=(course,)), refs)
        run(connector, ops.AssignLearningPaths(external_id=person, learning_path_ids=(path,)), refs)
    return refs, course, path


def test_members_and_holders_are_listed_per_team_and_item_in_pages(litmos, connected):
    connector = connected(page_size=2)
    refs, course, path = company(litmos, connector, 5)
    everyone = set(refs.users.values())
    before = connector.client.calls.total
    assert set(connector.list_members(refs.groups["T"])) == everyone
    assert connector.client.calls.total - before == 3, "5 members in pages of 2: 3 calls"
    assert set(connector.list_holders("course", course)) == everyone
    assert set(connector.list_holders("learning_path", path)) == everyone
    assert connector.client.calls.total - before == 9


def test_listings_show_what_was_removed_by_hand(litmos, connected):
    connector = connected()
    refs, course, _ = company(litmos, connector, 3)
    store = litmos.running.simulator.store  # type: ignore[attr-defined]
    gone = refs.users["E1"]
    store.remove_member(store.membership(refs.groups["T"], gone))
    store.unassign_course(store.assignment(gone, course))
    before = connector.client.calls.total
    assert gone not in set(connector.list_members(refs.groups["T"]))
    assert set(connector.list_holders("course", course)) == set(refs.users.values()) - {gone}
    assert connector.client.calls.total - before == 2, "one call per team and per course"


def test_an_item_kind_litmos_cannot_list_says_so(connected):
    connector = connected()
    with pytest.raises(NotImplementedError):
        list(connector.list_holders("certificate", "X"))
