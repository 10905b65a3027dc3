"""The outbox state machine: allowed transitions, dependents, enqueue rules, counts."""

from __future__ import annotations

import pytest

from syncd.plan.ops import CreateUser, DeactivateUser
from syncd.state.machine import (
    EnqueueAction,
    Existing,
    IllegalTransition,
    OpState,
    QueueCounts,
    check_transition,
    dependents,
    enqueue_action,
)

OP = CreateUser(external_id="E1", match_value="e1@x.test", attrs=(("UserName", "e1@x.test"),))


@pytest.mark.parametrize(
    "source, target",
    [
        ("pending", "claimed"),
        ("claimed", "done"),
        ("claimed", "retry"),
        ("claimed", "dead"),
        ("claimed", "pending"),
        ("claimed", "claimed"),
        ("retry", "claimed"),
        ("pending", "blocked"),
        ("blocked", "pending"),
        ("dead", "pending"),
        ("done", "pending"),
    ],
)
def test_allowed_transitions(source, target):
    assert check_transition(source, target) is OpState(target)


@pytest.mark.parametrize(
    "source, target",
    [("pending", "done"), ("done", "dead"), ("dead", "done"), ("blocked", "claimed")],
)
def test_forbidden_transitions_raise(source, target):
    with pytest.raises(IllegalTransition, match=f"from {source} to {target}"):
        check_transition(source, target)


def test_dependents_are_transitive_and_only_those():
    deps = {
        "create_user:E1": [],
        "create_group:T": [],
        "add_members:T": ["create_user:E1", "create_group:T"],
        "create_group:T/sub": ["create_group:T"],
        "assign_courses:E1": ["create_user:E1"],
        "assign_courses:E2": ["create_user:E2"],
        "x": ["add_members:T"],
    }
    assert dependents(deps, ["create_user:E1"]) == {"add_members:T", "assign_courses:E1", "x"}
    assert dependents(deps, ["create_group:T"]) == {"add_members:T", "create_group:T/sub", "x"}
    assert dependents(deps, ["nothing"]) == set()


def test_enqueue_rules():
    payload = OP.to_payload()
    changed = {**payload, "attrs": [["UserName", "fixed@x.test"]]}
    assert enqueue_action(None, payload) is EnqueueAction.INSERT
    for state in ("pending", "claimed", "retry", "blocked"):
        assert enqueue_action(Existing(OpState(state), payload), payload) is EnqueueAction.KEEP
    assert enqueue_action(Existing(OpState.DONE, payload), payload) is EnqueueAction.REARM
    assert enqueue_action(Existing(OpState.DEAD, payload), payload) is EnqueueAction.KEEP_DEAD
    assert enqueue_action(Existing(OpState.DEAD, payload), changed) is EnqueueAction.REARM


def test_enqueue_compares_payloads_across_the_json_round_trip():
    stored = {"attrs": [["a", "b"]], "depends_on": []}
    planned = {"attrs": (("a", "b"),), "depends_on": ()}
    assert enqueue_action(Existing(OpState.DEAD, stored), planned) is EnqueueAction.KEEP_DEAD


def test_same_change_twice_gets_the_same_key_so_done_must_be_rearmable():
    first = DeactivateUser(external_id="E1")
    again = DeactivateUser(external_id="E1")
    assert first.key == again.key
    assert enqueue_action(Existing(OpState.DONE, first.to_payload()), again.to_payload()) is (
        EnqueueAction.REARM
    )


def test_counts():
    counts = QueueCounts({"done": 3, "retry": 1, "blocked": 2, "dead": 1})
    assert (counts.total, counts.open, counts["done"], counts["pending"]) == (7, 3, 3, 0)
