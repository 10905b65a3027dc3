"""Each op's effect on the mirror, and how it depends on what the vendor answered."""

from __future__ import annotations

import pytest

from syncd.plan import Mirror, apply
from syncd.plan.effects import (
    AddAssignments,
    AddMemberships,
    ForgetUser,
    MergeUser,
    PutGroup,
    PutUser,
    RemoveAssignment,
    RemoveMembership,
    SetActive,
    effects,
)
from syncd.plan.ops import (
    OP_TYPES,
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)
from tests.unit.plan.kit import EVERY_OP

ANN = CreateUser(
    external_id="E1", match_value="ann@x", attrs=(("UserName", "ann@x"), ("FirstName", "Ann"))
)


def test_every_op_kind_has_an_effect() -> None:
    assert {op.kind for op in EVERY_OP} == set(OP_TYPES)
    for op in EVERY_OP:
        assert effects(op), op.kind


def test_an_op_kind_without_a_rule_is_refused() -> None:
    class Odd(Op):
        kind = "odd"

    with pytest.raises(ValueError, match="`odd`"):
        effects(Odd())


def test_a_create_records_the_remote_id_the_vendor_gave() -> None:
    assert effects(ANN, remote_id="R1") == (
        PutUser("E1", "ann@x", ANN.attrs, active=True, remote_id="R1"),
    )


def test_a_create_without_a_remote_id_keeps_the_known_one() -> None:
    (change,) = effects(ANN, remote_id="")
    assert isinstance(change, PutUser) and change.remote_id is None
    known = apply([ANN], Mirror.empty(), remote_ids={ANN.key: "R1"})
    again = apply([ANN], known)
    assert again.users["remote_id"].tolist() == ["R1"]
    assert apply([ANN], Mirror.empty()).users["remote_id"].tolist() == [""]


def test_an_adopted_account_is_recorded_as_the_lms_now_holds_it() -> None:
    detail = {"attrs": {"UserName": "ann@x", "FirstName": "Anne"}, "active": False}
    (change,) = effects(ANN, remote_id="R7", detail=detail)
    assert change == PutUser(
        "E1", "ann@x", (("UserName", "ann@x"), ("FirstName", "Anne")), active=False, remote_id="R7"
    )


def test_a_link_records_the_op_s_remote_id_unless_the_vendor_names_another() -> None:
    link = LinkUser(external_id="E2", match_value="b@x", remote_id="R2", attrs=(), active=True)
    assert effects(link) == (PutUser("E2", "b@x", (), active=True, remote_id="R2"),)
    assert effects(link, remote_id="R3")[0] == PutUser("E2", "b@x", (), True, "R3")
    group = LinkGroup(group_key="g:C", name="C", parent_key="g:A", remote_id="T9")
    assert effects(group) == (PutGroup("g:C", "C", "g:A", "T9"),)


def test_group_ops_set_name_and_parent_and_only_creates_name_an_id() -> None:
    create = CreateGroup(group_key="g:A", name="A")
    assert effects(create, remote_id="T1") == (PutGroup("g:A", "A", "", "T1"),)
    update = UpdateGroup(group_key="g:A", name="A2", parent_key="g:X")
    assert effects(update, remote_id="T5") == (PutGroup("g:A", "A2", "g:X", None),)


def test_user_changes() -> None:
    update = UpdateUser(external_id="E1", changes=(("FirstName", "Ann", "Anne"),))
    assert effects(update) == (MergeUser("E1", (("FirstName", "Anne"),), None),)
    moved = UpdateUser(external_id="E1", changes=(), match_value="new@x")
    assert effects(moved) == (MergeUser("E1", (), "new@x"),)
    assert effects(DeactivateUser(external_id="E1")) == (SetActive("E1", False),)
    assert effects(ReactivateUser(external_id="E1")) == (SetActive("E1", True),)
    assert effects(DeleteUser(external_id="E1")) == (ForgetUser("E1"),)


def test_add_members_records_the_members_the_call_added() -> None:
    needs = {f"create_user:{x}": x for x in ("E1", "E2", "E3")}
    op = AddMembers(group_key="g:A", external_ids=("E1", "E2", "E3"), depends_on=tuple(needs))
    assert effects(op) == (AddMemberships("g:A", ("E1", "E2", "E3")),)
    parts = op.split(needs, {"create_user:E2"})
    assert parts is not None
    going, held = parts
    assert effects(going) == (AddMemberships("g:A", ("E1", "E3")),)
    assert effects(held) == (AddMemberships("g:A", ("E2",)),)
    assert effects(op, detail={"added": ["E1", "E3"]}) == (AddMemberships("g:A", ("E1", "E3")),)


def test_memberships_and_assignments() -> None:
    assert effects(RemoveMember(group_key="g:A", external_id="E1")) == (
        RemoveMembership("g:A", "E1"),
    )
    assert effects(AssignCourses(external_id="E1", course_ids=("C1", "C2"))) == (
        AddAssignments("E1", "course", ("C1", "C2")),
    )
    assert effects(AssignLearningPaths(external_id="E1", learning_path_ids=("L1",))) == (
        AddAssignments("E1", "learning_path", ("L1",)),
    )
    assert effects(UnassignCourse(external_id="E1", course_id="C1")) == (
        RemoveAssignment("E1", "course", "C1"),
    )
    assert effects(UnassignLearningPath(external_id="E1", learning_path_id="L1")) == (
        RemoveAssignment("E1", "learning_path", "L1"),
    )


def test_an_update_of_a_group_not_yet_known_records_it_without_an_id() -> None:
    after = apply([UpdateGroup(group_key="g:A", name="A")], Mirror.empty())
    assert after.groups.values.tolist() == [["g:A", "", "A", ""]]
