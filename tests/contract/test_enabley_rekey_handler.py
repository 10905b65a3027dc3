"""Enabley's RekeyUser: ``PUT /api/v2/users/identityManagement`` and what each answer means.

Against the Enabley simulator over loopback HTTP; calls counted by the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Refs
from syncd.vendors import connect
from syncd.vendors.base import Outcome, Status
from tests.contract.kit import EnableyHarness

PATH = "/api/v2/users/identityManagement"
REKEY = ops.RekeyUser(external_id="N1", previous_id="E1")


@pytest.fixture
def harness(sandbox) -> Iterator[EnableyHarness]:
    forget_limiters()
    yield EnableyHarness(sandbox("enabley"))
    forget_limiters()


def run(harness: EnableyHarness, op: ops.RekeyUser, refs: Refs) -> Outcome:
    with connect(harness.connection()) as connector:
        (outcome,) = connector.execute([op], refs)
    return outcome


def identifiers(harness: EnableyHarness) -> set[str]:
    return set(harness.running.simulator.account.users)


def test_the_account_is_renamed_in_one_call(harness: EnableyHarness) -> None:
    harness.seed_user(1, identifier="E1")
    outcome = run(harness, REKEY, Refs(users={"E1": "E1"}))
    assert (outcome.status, outcome.calls, outcome.remote_id) == (Status.DONE, 1, "N1")
    assert harness.counted("PUT", PATH) == 1
    assert identifiers(harness) == {"N1"}, "the simulator read the documented UserIdentity"


def test_a_repeat_after_a_lost_answer_is_done(harness: EnableyHarness) -> None:
    harness.seed_user(1, identifier="N1")
    outcome = run(harness, REKEY, Refs(users={"E1": "E1"}))
    assert outcome.status is Status.DONE and outcome.remote_id == "N1"
    assert outcome.calls == 2, "the refused rename and the look-up of the new identifier"
    assert identifiers(harness) == {"N1"}


def test_neither_identifier_is_permanent_and_says_so(harness: EnableyHarness) -> None:
    outcome = run(harness, REKEY, Refs(users={"E1": "E1"}))
    assert outcome.status is Status.DEAD
    assert "neither identifier exists" in outcome.error and "`E1`" in outcome.error


def test_a_new_identifier_held_by_another_account_is_never_merged(
    harness: EnableyHarness,
) -> None:
    harness.seed_user(1, identifier="E1")
    harness.seed_user(2, identifier="N1")
    outcome = run(harness, REKEY, Refs(users={"E1": "E1"}))
    assert outcome.status is Status.DEAD
    assert "another account already has the identifier `N1`" in outcome.error
    assert identifiers(harness) == {"E1", "N1"}
    assert harness.counted("PUT", PATH) == 1


def test_an_account_adopted_under_its_own_identifier_keeps_it(harness: EnableyHarness) -> None:
    harness.seed_user(1, identifier="hand-1")
    outcome = run(harness, REKEY, Refs(users={"E1": "hand-1"}))
    assert (outcome.status, outcome.calls, outcome.remote_id) == (Status.DONE, 0, "hand-1")
    assert harness.counted("PUT", PATH) == 0
    assert identifiers(harness) == {"hand-1"}
