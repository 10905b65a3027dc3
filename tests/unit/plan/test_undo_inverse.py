"""The inverse of a run (``syncd.plan.undo``): each op kind turned around against the mirror
as it is now, in a valid order, with what is moot or impossible listed, never planned."""

from __future__ import annotations

import pandas as pd

from syncd.plan.model import Mirror
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkUser,
    ReactivateUser,
    RekeyUser,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)
from syncd.plan.undo import Applied, inverse


def make_mirror(
    users: dict[str, tuple[bool, dict[str, str]]],
    groups: dict[str, tuple[str, str]] | None = None,
    members: set[tuple[str, str]] | None = None,
    items: set[tuple[str, str, str]] | None = None,
) -> Mirror:
    """A mirror from plain data: users (active, attrs), groups (name, parent), memberships
    (group, person), assignments (person, kind, item)."""
    groups, members, items = groups or {}, members or set(), items or set()
    return Mirror(
        users=pd.DataFrame(
            {
                "external_id": list(users),
                "remote_id": [f"r-{u}" for u in users],
                "match_value": [f"{u}@corp.test" for u in users],
                "active": [a for a, _ in users.values()],
                "attrs": [f for _, f in users.values()],
                "attrs_hash": ["h"] * len(users),
            }
        ),
        groups=pd.DataFrame(
            {
                "key": list(groups),
                "remote_id": [f"g-{g}" for g in groups],
                "name": [n for n, _ in groups.values()],
                "parent_key": [p for _, p in groups.values()],
            }
        ),
        memberships=pd.DataFrame(
            {
                "group_key": [g for g, _ in sorted(members)],
                "external_id": [p for _, p in sorted(members)],
            }
        ),
        assignments=pd.DataFrame(
            {
                "external_id": [p for p, _, _ in sorted(items)],
                "kind": [k for _, k, _ in sorted(items)],
                "item_id": [i for _, _, i in sorted(items)],
            }
        ),
    )


def journal(*ops, before=None):
    before = before or {}
    return [Applied(key=op.key, op=op, before=before.get(op.key, {})) for op in ops]


def undo(entries, mirror, completed=frozenset(), **kwargs):
    return inverse(entries, mirror, run_id=7, completed=completed, **kwargs)


def kinds(result):
    return [op.kind for op in result.ops]


ANN = {"FirstName": "Ann", "Title": "Lead"}


def test_a_deactivation_becomes_a_reactivation():
    off = DeactivateUser(external_id="a", reason="terminated")
    result = undo(
        journal(off, before={off.key: {"active": True}}), make_mirror({"a": (False, ANN)})
    )
    assert result.ops == (ReactivateUser(external_id="a"),)
    assert result.undone == (off.key,)


def test_a_reactivation_becomes_a_deactivation():
    on = ReactivateUser(external_id="a")
    result = undo(journal(on, before={on.key: {"active": False}}), make_mirror({"a": (True, ANN)}))
    assert kinds(result) == ["deactivate_user"]
    assert "undo of run 7" in result.ops[0].reason


def test_removals_become_additions_batched_per_group_after_reactivation():
    off = DeactivateUser(external_id="a")
    gone = [
        RemoveMember(group_key="sales", external_id="a"),
        RemoveMember(group_key="sales", external_id="b"),
        RemoveMember(group_key="ops", external_id="b"),
    ]
    mirror = make_mirror(
        {"a": (False, ANN), "b": (True, ANN)},
        groups={"sales": ("Sales", ""), "ops": ("Ops", "")},
    )
    result = undo(journal(off, *gone), mirror)
    woken = ReactivateUser(external_id="a")
    assert result.ops[0] == woken
    adds = {op.group_key: op for op in result.ops if isinstance(op, AddMembers)}
    assert adds["sales"].external_ids == ("a", "b")
    assert adds["sales"].depends_on == (woken.key,)
    assert adds["ops"].external_ids == ("b",) and adds["ops"].depends_on == ()


def test_member_batches_follow_the_vendor_size():
    gone = [RemoveMember(group_key="g", external_id=p) for p in "abc"]
    mirror = make_mirror({p: (True, ANN) for p in "abc"}, groups={"g": ("G", "")})
    result = undo(journal(*gone), mirror, max_members=2)
    assert [op.external_ids for op in result.ops] == [("a", "b"), ("c",)]


def test_replace_memberships_adds_back_the_dropped_groups_and_leaves_the_new_one():
    moved = ReplaceMemberships(external_id="a", group_key="new", removed=("old1", "old2"))
    mirror = make_mirror(
        {"a": (True, ANN)},
        groups={"new": ("N", ""), "old1": ("O1", ""), "old2": ("O2", "")},
        members={("new", "a")},
    )
    result = undo(journal(moved), mirror)
    assert set(result.ops) == {
        AddMembers(group_key="old1", external_ids=("a",)),
        AddMembers(group_key="old2", external_ids=("a",)),
        RemoveMember(group_key="new", external_id="a"),
    }


def test_unassignments_become_assignments_per_person():
    ops = [
        UnassignCourse(external_id="a", course_id="c1"),
        UnassignCourse(external_id="a", course_id="c2"),
        UnassignLearningPath(external_id="a", learning_path_id="lp"),
    ]
    result = undo(journal(*ops), make_mirror({"a": (True, ANN)}))
    assert set(result.ops) == {
        AssignCourses(external_id="a", course_ids=("c2", "c1")),
        AssignLearningPaths(external_id="a", learning_path_ids=("lp",)),
    }


def test_an_update_restores_the_old_values_and_match_value():
    update = UpdateUser(
        external_id="a",
        changes=(("Title", "Associate", "Lead"), ("FirstName", "Anne", "Ann")),
        match_value="ann@new.test",
    )
    users = {"a": (True, ANN)}
    mirror = make_mirror(users)
    mirror.users.loc[0, "match_value"] = "ann@new.test"
    entries = journal(update, before={update.key: {"match_value": "ann@old.test"}})
    (op,) = undo(entries, mirror).ops
    assert op == UpdateUser(
        external_id="a",
        changes=(("Title", "Lead", "Associate"), ("FirstName", "Ann", "Anne")),
        match_value="ann@old.test",
    )


def test_an_update_of_a_field_changed_again_since_leaves_that_field():
    update = UpdateUser(external_id="a", changes=(("Title", "Associate", "Lead"),))
    result = undo(journal(update), make_mirror({"a": (True, {"Title": "Director"})}))
    assert result.ops == ()
    assert [s.reason for s in result.skipped] == ["changed again since the run"]


def test_a_complete_update_carries_every_field_with_the_old_values():
    update = UpdateUser(
        external_id="a",
        changes=(("Title", "Associate", "Lead"),),
        attrs=(("FirstName", "Ann"), ("Title", "Lead")),
    )
    (op,) = undo(journal(update), make_mirror({"a": (True, ANN)})).ops
    assert op.attrs == (("FirstName", "Ann"), ("Title", "Associate"))


def test_a_group_update_restores_name_and_parent():
    update = UpdateGroup(group_key="g", name="New", parent_key="top2")
    before = {update.key: {"name": "Old", "parent_key": "top1"}}
    mirror = make_mirror({}, groups={"g": ("New", "top2")})
    assert undo(journal(update, before=before), mirror).ops == (
        UpdateGroup(group_key="g", name="Old", parent_key="top1"),
    )


def test_a_created_account_is_deactivated_last_never_deleted():
    create = CreateUser(external_id="n", match_value="n@corp.test", attrs=())
    added = AddMembers(group_key="g", external_ids=("n",))
    mirror = make_mirror({"n": (True, ANN)}, groups={"g": ("G", "")}, members={("g", "n")})
    result = undo(journal(create, added), mirror)
    assert kinds(result) == ["remove_member", "deactivate_user"]
    assert result.ops[1].depends_on == (result.ops[0].key,)
    assert "created by the run" in result.ops[1].reason
    assert any("never deleted" in note for note in result.notes)
    assert not any(isinstance(op, DeleteUser) for op in result.ops)


def test_assignments_are_taken_back_only_when_not_completed():
    assigned = AssignCourses(external_id="a", course_ids=("c1", "c2"))
    mirror = make_mirror({"a": (True, ANN)}, items={("a", "course", "c1"), ("a", "course", "c2")})
    result = undo(journal(assigned), mirror, completed={("a", "course", "c1")})
    assert result.ops == (UnassignCourse(external_id="a", course_id="c2"),)
    assert [s.reason for s in result.skipped] == ["kept: completed"]


def test_without_any_result_pulled_assignments_are_kept():
    assigned = AssignGroupCourses(group_key="g", course_ids=("c1",), external_ids=("a",))
    mirror = make_mirror({"a": (True, ANN)}, items={("a", "course", "c1")})
    result = undo(journal(assigned), mirror, completed=None)
    assert result.ops == ()
    assert "cannot tell" in result.skipped[0].reason


def test_a_rekey_moves_the_key_back_after_the_persons_other_ops():
    rekey = RekeyUser(external_id="new", previous_id="old", match_value="new")
    update = UpdateUser(external_id="new", changes=(("Title", "Associate", "Lead"),))
    entries = journal(rekey, update, before={rekey.key: {"match_value": "old"}})
    result = undo(entries, make_mirror({"new": (True, ANN)}))
    assert kinds(result) == ["update_user", "rekey_user"]
    back = result.ops[1]
    assert (back.external_id, back.previous_id, back.match_value) == ("old", "new", "old")
    assert back.depends_on == (result.ops[0].key,)


def test_moot_changes_are_skipped_with_a_reason():
    entries = journal(
        DeactivateUser(external_id="back"),
        DeactivateUser(external_id="gone"),
        RemoveMember(group_key="g", external_id="member"),
        UnassignCourse(external_id="back", course_id="c1"),
        AddMembers(group_key="g", external_ids=("left",)),
    )
    mirror = make_mirror(
        {"back": (True, ANN), "member": (True, ANN), "left": (True, ANN)},
        groups={"g": ("G", "")},
        members={("g", "member")},
        items={("back", "course", "c1")},
    )
    result = undo(entries, mirror)
    assert result.ops == ()
    assert result.undone == ()
    reasons = {s.subject: s.reason for s in result.skipped}
    assert reasons == {
        "back": "already active again",
        "gone": "no longer in the mirror (deleted since)",
        "g|member": "already a member again",
        "back|course:c1": "already assigned again",
        "g|left": "no longer a member",
    }


def test_deletions_and_created_groups_are_impossible_and_adoptions_skipped():
    entries = journal(
        DeleteUser(external_id="x"),
        CreateGroup(group_key="g", name="G"),
        LinkUser(external_id="y", match_value="y", remote_id="r", attrs=(), active=True),
    )
    result = undo(entries, make_mirror({"y": (True, ANN)}, groups={"g": ("G", "")}))
    assert result.ops == ()
    assert [(i.subject, i.kind) for i in result.impossible] == [
        ("g", "create_group"),
        ("x", "delete_user"),
    ]
    assert [s.kind for s in result.skipped] == ["link_user"]


def test_a_vendor_without_deactivation_cannot_switch_a_created_account_off():
    create = CreateUser(external_id="n", match_value="n", attrs=())
    result = undo(journal(create), make_mirror({"n": (True, ANN)}), can_deactivate=False)
    assert result.ops == () and result.impossible[0].kind == "create_user"


def test_every_dependency_comes_earlier_in_the_order():
    entries = journal(
        DeactivateUser(external_id="a"),
        RemoveMember(group_key="g", external_id="a"),
        UnassignCourse(external_id="a", course_id="c1"),
        CreateUser(external_id="n", match_value="n", attrs=()),
        AddMembers(group_key="g", external_ids=("n",)),
        AssignCourses(external_id="n", course_ids=("c1",)),
    )
    mirror = make_mirror(
        {"a": (False, ANN), "n": (True, ANN)},
        groups={"g": ("G", "")},
        members={("g", "n")},
        items={("n", "course", "c1")},
    )
    result = undo(entries, mirror)
    seen: set[str] = set()
    for op in result.ops:
        assert set(op.depends_on) <= seen
        seen.add(op.key)
    assert len(result.ops) == 6
