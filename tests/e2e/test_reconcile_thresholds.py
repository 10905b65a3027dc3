"""Per-operation safeguards as a user meets them through `syncd plan` and `syncd reconcile`
against the Litmos sandbox: a mapping change that would move everyone to another team is
refused by the mass-change limit with no vendor call, and goes through with
--allow-mass-change; a rule change that would unassign a course from most people is
refused the same way."""

from __future__ import annotations

import json

from tests.e2e.kit import Setup, company, lms, mirror, result

GROUPING = 'columns = ["division", "department"]'


def edit_config(setup: Setup, old: str, new: str) -> None:
    text = setup.config.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    setup.config.write_text(text.replace(old, new), encoding="utf-8")


def test_a_mapping_change_moving_everyone_is_refused_then_allowed(world):
    setup = world(company(30))
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    edit_config(setup, GROUPING, 'columns = ["job_title"]')

    planned = setup.syncd("plan", "--format", "json")
    assert planned.returncode == 3, result(planned)
    data = json.loads(planned.stdout)
    refusal = data["safeguards"]["refusal"]
    assert (refusal["limit"], refusal["field"]) == ("max_field_change_percent", "groups")
    assert refusal["kinds"] == ["add_members", "remove_member", "replace_memberships"]
    assert refusal["message"] == (
        "add_members/remove_member/replace_memberships: 30 of 30 active synced people "
        "(100.0%) change groups, limit max_field_change_percent = 15%"
    )
    table = setup.syncd("plan")
    assert "max_field_change_percent[groups]" in table.stdout, result(table)

    mark = setup.log_mark()
    refused = setup.reconcile()
    assert refused.returncode == 3, result(refused)
    assert "refused, nothing enqueued" in refused.stdout
    assert "30 of 30 active synced people (100.0%) change groups" in refused.stdout
    assert setup.sandbox.admin.log(since=mark) == [], "not one vendor call"
    assert '"ops": []' in setup.syncd("queue", "list", "--format", "json").stdout

    allowed = setup.reconcile("--allow-mass-change")
    assert allowed.returncode == 0, result(allowed)
    assert setup.writes_since(mark), "the deliberate change reached the LMS"
    assert lms(setup.sandbox) == mirror(setup.db_url)
    again = setup.reconcile()
    assert again.returncode == 0 and "refused" not in again.stdout, result(again)


def test_a_rule_change_unassigning_most_people_is_refused(world):
    setup = world(company(30))
    config = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        config + "\n[connections.lms.deprovision]\nunassign_courses = true\n", encoding="utf-8"
    )
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    edit_config(
        setup,
        'name = "everyone"\n',
        'name = "everyone"\nwhen = [{ field = "job_title", equals = "Lead" }]\n',
    )

    mark = setup.log_mark()
    refused = setup.reconcile()
    assert refused.returncode == 3, result(refused)
    assert "max_unassignment_percent" in refused.stdout
    assert "unassign_course/unassign_learning_path:" in refused.stdout
    assert setup.sandbox.admin.log(since=mark) == [], "not one vendor call"
