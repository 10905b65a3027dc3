"""Per-operation safeguards as a user meets them through `syncd plan`, `syncd reconcile` and
`syncd held` against the Litmos sandbox: a mapping change that would move everyone to
another team holds every membership change (the new teams are made, nobody moves) until an
operator approves; a rule change that would unassign a course from most people holds the
unassignments, and a rejection keeps them out for good; with ``on_trip = "refuse"`` the
whole plan is refused with no vendor call, and --allow-mass-change lets it through."""

from __future__ import annotations

import json

from tests.e2e.kit import Setup, company, lms, mirror, result

GROUPING = 'columns = ["division", "department"]'


def edit_config(setup: Setup, old: str, new: str) -> None:
    text = setup.config.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    setup.config.write_text(text.replace(old, new), encoding="utf-8")


def membership_calls(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    """Calls that add people to teams or take them out."""
    return [
        e
        for e in entries
        if "/users" in str(e["path"])
        and str(e["path"]).startswith("/v1.svc/teams/")
        and e["method"] in ("POST", "DELETE")
    ]


def held_list(setup: Setup) -> list[dict[str, object]]:
    listed = setup.syncd("held", "list", "--format", "json")
    assert listed.returncode == 0, result(listed)
    return list(json.loads(listed.stdout)[0]["ops"])


def test_a_mapping_change_moving_everyone_is_held_until_approved(world):
    setup = world(company(30))
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    edit_config(setup, GROUPING, 'columns = ["job_title"]')

    planned = setup.syncd("plan", "--format", "json")
    assert planned.returncode == 2, result(planned)
    data = json.loads(planned.stdout)
    assert data["safeguards"]["refusal"] is None
    held_checks = {entry["check"] for entry in data["held"]}
    assert "max_field_change_percent[groups]" in held_checks
    assert {entry["kind"] for entry in data["held"]} == {"add_members", "remove_member"}
    table = setup.syncd("plan")
    assert "held" in table.stdout and "max_field_change_percent[groups]" in table.stdout

    mark = setup.log_mark()
    held = setup.reconcile()
    assert held.returncode == 7, result(held)
    assert "held for approval" in held.stdout
    assert membership_calls(setup.sandbox.admin.log(since=mark)) == [], "nobody moved"
    ops = held_list(setup)
    assert len(ops) == len(data["held"])
    people = {p for op in ops for p in op["people"]}
    assert len(people) == 30

    again = setup.reconcile()
    assert again.returncode == 7, result(again)
    assert membership_calls(setup.sandbox.admin.log(since=mark)) == [], "still nobody moved"
    assert len(held_list(setup)) == len(ops), "the same ops, held once"

    approved = setup.syncd("held", "approve", "--all")
    assert approved.returncode == 0, result(approved)
    done = setup.reconcile()
    assert done.returncode == 0, result(done)
    assert membership_calls(setup.sandbox.admin.log(since=mark)), "the approved moves went out"
    assert lms(setup.sandbox) == mirror(setup.db_url)
    assert held_list(setup) == []


def test_with_on_trip_refuse_the_plan_is_refused_without_a_call_then_allowed(world):
    setup = world(company(30))
    assert setup.reconcile().returncode == 0
    edit_config(
        setup,
        "[connections.lms.safeguards]\n",
        '[connections.lms.safeguards]\non_trip = "refuse"\n',
    )
    edit_config(setup, GROUPING, 'columns = ["job_title"]')
    planned = setup.syncd("plan", "--format", "json")
    assert planned.returncode == 3, result(planned)
    refusal = json.loads(planned.stdout)["safeguards"]["refusal"]
    assert (refusal["limit"], refusal["field"]) == ("max_field_change_percent", "groups")
    assert refusal["message"] == (
        "add_members/remove_member/replace_memberships: 30 of 30 active synced people "
        "(100.0%) change groups, limit max_field_change_percent = 15%"
    )
    mark = setup.log_mark()
    refused = setup.reconcile()
    assert refused.returncode == 3, result(refused)
    assert "refused, nothing enqueued" in refused.stdout
    assert setup.sandbox.admin.log(since=mark) == [], "not one vendor call"
    allowed = setup.reconcile("--allow-mass-change")
    assert allowed.returncode == 0, result(allowed)
    assert lms(setup.sandbox) == mirror(setup.db_url)


def test_a_rule_change_unassigning_most_people_is_held_and_a_rejection_sticks(world):
    setup = world(company(30))
    config = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        config + "\n[connections.lms.deprovision]\nunassign_courses = true\n", encoding="utf-8"
    )
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    pulled = setup.syncd("results", "pull")  # completions are known: nobody completed
    assert pulled.returncode == 0, result(pulled)
    edit_config(
        setup,
        'name = "everyone"\n',
        'name = "everyone"\nwhen = [{ field = "job_title", equals = "Lead" }]\n',
    )

    mark = setup.log_mark()
    held = setup.reconcile()
    assert held.returncode == 7, result(held)
    assert "max_unassignment_percent" in held.stdout
    assert setup.writes_since(mark) == [], "no unassignment reached the LMS"
    ops = held_list(setup)
    assert ops and {op["kind"] for op in ops} == {"unassign_course"}

    one = ops[0]["people"][0]
    rejected = setup.syncd("held", "reject", "--person", one)
    assert rejected.returncode == 0 and "rejected 1 held op" in rejected.stdout, result(rejected)
    nothing = setup.syncd("held", "approve")
    assert nothing.returncode != 0 and "--all" in (nothing.stdout + nothing.stderr)

    approved = setup.syncd("held", "approve", "--all")
    assert approved.returncode == 0, result(approved)
    done = setup.reconcile()
    assert done.returncode == 0, result(done)
    removed = [e for e in setup.writes_since(mark) if e["method"] == "DELETE"]
    assert len(removed) == len(ops) - 1, "every approved unassignment, not the rejected one"
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert len([e for e in setup.writes_since(mark) if e["method"] == "DELETE"]) == len(removed)
    plan = setup.syncd("plan")
    assert plan.returncode == 0, result(plan)
