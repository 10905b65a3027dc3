"""A person whose HRIS key changed keeps their account: one RekeyUser, not a new person and
a leaver (the source's ``previous_key``, carried as the Roster's ``previous_external_id``).

Pure planning: a mirror is synced with ``apply``, then the export changes a key.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from syncd.plan import Mirror, apply, build_plan
from syncd.plan.desired import build_desired
from syncd.plan.model import Plan, VendorProfile
from syncd.plan.ops import (
    AddMembers,
    CreateUser,
    DeactivateUser,
    RekeyUser,
    RemoveMember,
    UpdateUser,
)
from syncd.plan.users import pair
from syncd.vendors import profile
from tests.unit.plan.kit import LITMOS_LIKE, TODAY, connection, person, roster

COURSES = [{"name": "all", "assign": {"courses": ["C1"]}}]
ENABLEY_LIKE = replace(LITMOS_LIKE, rekey="identifier", calls={"rekey_user": 1})
NO_REKEY = replace(LITMOS_LIKE, rekey="none")


def row(key: str, previous: str = "", *, was: str = "", **values: Any) -> dict[str, Any]:
    """An export row with the previous key column; ``was``: the person's fields are those
    ``person(was)`` had (the same person under a new key)."""
    fields = person(was or key)
    fields.update(employee_id=key, previous_external_id=previous, **values)
    return fields


def plan_for(
    rows: list[dict[str, Any]],
    mirror: Mirror,
    profile: VendorProfile = LITMOS_LIKE,
    *,
    rejected: tuple[str, ...] = (),
    **overrides: Any,
) -> Plan:
    return build_plan(
        roster(rows, rejected_keys=rejected),
        connection(rules=COURSES, **overrides),
        profile,
        mirror,
        today=TODAY,
        name="main",
    )


def synced(*keys: str, profile: VendorProfile = LITMOS_LIKE, **overrides: Any) -> Mirror:
    """The mirror after a first sync of these people (remote ids R-<key>)."""
    plan = plan_for([row(k) for k in keys], Mirror.empty(), profile, **overrides)
    ids = {op.key: f"R-{op.subject}" for op in plan.ops if isinstance(op, CreateUser)}
    return apply(plan, Mirror.empty(), remote_ids=ids)


def users_of(mirror: Mirror) -> dict[str, str]:
    return dict(
        zip(mirror.users["external_id"].tolist(), mirror.users["remote_id"].tolist(), strict=True)
    )


# --------------------------------------------------------------------------- the rekey


def test_a_changed_key_is_one_rekey_and_the_account_keeps_everything() -> None:
    mirror = synced("E1", "E2")
    plan = plan_for([row("N1", "E1", was="E1"), row("E2")], mirror)
    assert plan.ops == (RekeyUser(external_id="N1", previous_id="E1"),)
    assert plan.calls == 0, "Litmos: the key lives in syncd's mirror only"
    after = apply(plan, mirror)
    assert users_of(after) == {"N1": "R-E1", "E2": "R-E2"}
    assert sorted(after.memberships.astype(str).values.tolist()) == [
        ["org:Ops/Support", "E2"],
        ["org:Ops/Support", "N1"],
    ]
    assert sorted(after.assignments.astype(str).values.tolist()) == [
        ["E2", "course", "C1"],
        ["N1", "course", "C1"],
    ]
    assert plan_for([row("N1", "E1", was="E1"), row("E2")], after).ops == ()


def test_the_vendor_that_names_accounts_by_key_pays_one_call() -> None:
    mirror = synced("E1", profile=ENABLEY_LIKE)
    plan = plan_for([row("N1", "E1", was="E1")], mirror, ENABLEY_LIKE)
    assert plan.counts == {"rekey_user": 1} and plan.calls == 1
    after = apply(plan, mirror, remote_ids={plan.ops[0].key: "N1"})
    assert users_of(after) == {"N1": "N1"}


def test_later_ops_of_the_person_name_the_new_key_and_wait_for_the_rekey() -> None:
    mirror = synced("E1", "E2")
    moved = row("N1", "E1", was="E1", first_name="Renamed", department="Sales")
    plan = plan_for([moved, row("E2")], mirror)
    rekey = RekeyUser(external_id="N1", previous_id="E1")
    assert [op for op in plan.ops if isinstance(op, RekeyUser)] == [rekey]
    assert plan.ops.index(rekey) < min(
        plan.ops.index(op) for op in plan.ops if rekey.key in op.depends_on
    )
    by_kind = {type(op): op for op in plan.ops}
    update = by_kind[UpdateUser]
    assert isinstance(update, UpdateUser) and update.external_id == "N1"
    assert update.changes == (("FirstName", "FirstE1", "Renamed"),)
    assert rekey.key in update.depends_on
    adds = [op for op in plan.ops if isinstance(op, AddMembers) and "N1" in op.external_ids]
    removes = [op for op in plan.ops if isinstance(op, RemoveMember)]
    assert adds and all(rekey.key in op.depends_on for op in adds)
    assert removes == [RemoveMember(group_key="org:Ops/Support", external_id="N1")]
    assert rekey.key in removes[0].depends_on
    assert "create_user" not in plan.counts and "deactivate_user" not in plan.counts
    after = apply(plan, mirror)
    assert plan_for([moved, row("E2")], after).ops == ()


def test_a_match_value_that_is_the_key_moves_with_the_rekey() -> None:
    mirror = synced("E1", match_key="employee_id")
    plan = plan_for([row("N1", "E1", was="E1")], mirror, match_key="employee_id")
    assert plan.ops == (RekeyUser(external_id="N1", previous_id="E1", match_value="N1"),)
    after = apply(plan, mirror)
    assert after.users["match_value"].tolist() == ["N1"]
    assert plan_for([row("N1", "E1", was="E1")], after, match_key="employee_id").ops == ()


def test_a_field_made_from_the_key_is_updated_after_the_rekey() -> None:
    fields = {"UserName": "{employee_id}@corp.example", "FirstName": "{first_name}"}
    fields |= {"LastName": "{last_name}"}
    mirror = synced("E1", fields=fields)
    plan = plan_for([row("N1", "E1", was="E1")], mirror, fields=fields)
    rekey, update = plan.ops
    assert isinstance(rekey, RekeyUser) and isinstance(update, UpdateUser)
    assert update.changes == (("UserName", "E1@corp.example", "N1@corp.example"),)
    assert update.depends_on == (rekey.key,)
    assert plan.calls == 2, "Litmos: the rekey is free, the update is its GET and PUT"


def test_a_leaver_whose_key_changed_is_rekeyed_then_deactivated() -> None:
    mirror = synced("E1")
    plan = plan_for([row("N1", "E1", was="E1", active=False)], mirror)
    rekey, deactivate = plan.ops
    assert rekey == RekeyUser(external_id="N1", previous_id="E1")
    assert isinstance(deactivate, DeactivateUser) and deactivate.external_id == "N1"
    assert deactivate.depends_on == (rekey.key,)


def test_a_case_only_change_of_the_key_is_a_rekey() -> None:
    mirror = synced("E1")
    plan = plan_for([row("e1", "E1", was="E1")], mirror)
    assert plan.ops == (RekeyUser(external_id="e1", previous_id="E1"),)


# --------------------------------------------------------------------------- no rekey


def todays_behaviour(plan: Plan) -> None:
    """A changed key without a rekey: the old account is deactivated as absent, and the
    new key is a new person, whose username the old account already holds (skipped)."""
    assert plan.counts == {"deactivate_user": 1}
    assert plan.skipped.values.tolist() == [["N1", "match value already synced"]]


def test_without_the_column_a_changed_key_is_a_new_person_and_a_leaver() -> None:
    mirror = synced("E1")
    fields = person("E1")
    fields["employee_id"] = "N1"
    todays_behaviour(plan_for([fields], mirror))


def test_a_vendor_that_cannot_rekey_keeps_todays_behaviour_with_a_warning() -> None:
    mirror = synced("E1", profile=NO_REKEY)
    plan = plan_for([row("N1", "E1", was="E1")], mirror, NO_REKEY)
    todays_behaviour(plan)
    assert any("cannot change a person's key" in w for w in plan.warnings)


def test_a_previous_key_that_was_never_synced_is_a_plain_create() -> None:
    mirror = synced("E2")
    plan = plan_for([row("N1", "E9"), row("E2")], mirror)
    assert [op.subject for op in plan.ops if isinstance(op, CreateUser)] == ["N1"]
    assert "rekey_user" not in plan.counts and "deactivate_user" not in plan.counts


def test_a_previous_key_still_in_the_export_is_another_person() -> None:
    mirror = synced("E1")
    plan = plan_for([row("N1", "E1"), row("E1")], mirror)
    assert "rekey_user" not in plan.counts and "deactivate_user" not in plan.counts
    assert [op.subject for op in plan.ops if isinstance(op, CreateUser)] == ["N1"]


def test_a_previous_key_whose_row_was_rejected_is_not_followed() -> None:
    mirror = synced("E1")
    plan = plan_for([row("N1", "E1")], mirror, rejected=("E1",))
    assert "rekey_user" not in plan.counts and "deactivate_user" not in plan.counts
    assert plan.counts["create_user"] == 1


def test_a_blank_or_own_previous_key_changes_nothing() -> None:
    mirror = synced("E1", "E2")
    assert plan_for([row("E1", ""), row("E2", "E2")], mirror).ops == ()
    todays_behaviour(plan_for([row("N1", "  ", was="E1"), row("E2")], mirror))


# --------------------------------------------------------------------------- refused


def test_two_people_naming_one_previous_key_are_held_never_two_rekeys() -> None:
    mirror = synced("E1", "E2")
    plan = plan_for([row("N1", "E1", was="E1"), row("N2", "E1"), row("E2")], mirror)
    assert plan.ops == ()
    reasons = dict(zip(plan.skipped["external_id"], plan.skipped["reason"], strict=True))
    assert set(reasons) == {"N1", "N2"}
    assert reasons["N1"] == (
        "previous key E1 is named by 2 people of this export: not rekeyed, not created"
    )
    assert plan.incomplete


def test_a_synced_person_naming_the_same_previous_key_keeps_their_account() -> None:
    # N1 got a new account before previous_key was configured; E1, their old one, is
    # still synced. A new row naming E1 too is refused; N1 is left as they are.
    mirror = synced("E1", "N1")
    plan = plan_for([row("N1", "E1"), row("N2", "E1", was="E1")], mirror)
    assert plan.skipped["external_id"].tolist() == ["N2"]
    assert "rekey_user" not in plan.counts and "create_user" not in plan.counts
    assert "deactivate_user" not in plan.counts, "E1 is held while the claim is ambiguous"


def test_a_chain_of_key_changes_in_one_export_is_held() -> None:
    # E1 becomes E2 while the person who was E2 becomes E3: the renames' order is unknown.
    mirror = synced("E1", "E2")
    plan = plan_for([row("E2", "E1", was="E1"), row("E3", "E2", was="E2")], mirror)
    assert plan.ops == (), "E2's account is never given E1's fields, nothing is deactivated"
    assert sorted(plan.skipped["external_id"].tolist()) == ["E2", "E3"]
    assert all("chained" in reason for reason in plan.skipped["reason"])


def test_the_chain_done_one_step_per_export_rekeys_both() -> None:
    mirror = synced("E1", "E2")
    first = plan_for([row("E3", "E2", was="E2"), row("E1")], mirror)
    assert first.ops == (RekeyUser(external_id="E3", previous_id="E2"),)
    mirror = apply(first, mirror)
    second = plan_for([row("E2", "E1", was="E1"), row("E3", "E2", was="E2")], mirror)
    assert second.ops == (RekeyUser(external_id="E2", previous_id="E1"),)
    assert users_of(apply(second, mirror)) == {"E2": "R-E1", "E3": "R-E2"}


def test_a_held_previous_key_is_not_deprovisioned_as_absent() -> None:
    mirror = synced("E1", "E2")
    desired_rows = [row("N1", "E1"), row("N2", "E1"), row("E2")]
    plan = plan_for(desired_rows, mirror)
    assert "deactivate_user" not in plan.counts
    desired = build_desired(
        roster(desired_rows), connection(rules=COURSES), LITMOS_LIKE, today=TODAY
    )
    pairing = pair(desired, mirror.users)
    assert pairing.unpaired_mirror.tolist() == []
    assert sorted(pairing.refused) == [0, 1]


def test_each_vendor_declares_how_it_rekeys() -> None:
    assert (
        profile("enabley").rekey == "identifier" and profile("enabley").calls_for("rekey_user") == 1
    )
    assert profile("litmos").rekey == "mirror" and profile("litmos").calls_for("rekey_user") == 0
    assert profile("scormcloud").rekey == "none"
