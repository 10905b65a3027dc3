"""A connection that asks a vendor for what it cannot do is refused with the key named."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from syncd.config import ConnectionConfig
from syncd.errors import ConfigError
from syncd.plan.capabilities import refusals
from syncd.vendors.litmos.profile import PROFILE as LITMOS

TODAY = date(2024, 6, 1)

BARE = replace(LITMOS, vendor="bare", groups=False, learning_paths=False, deactivation=False)


def connection(**extra: object) -> ConnectionConfig:
    return ConnectionConfig.model_validate(
        {"vendor": "litmos", "base_url": "sandbox:", "credentials": {}, **extra}
    )


def test_litmos_grants_everything_a_connection_may_ask():
    wanting = connection(
        groups=["org"],
        rules=[{"name": "lp", "assign": {"learning_paths": ["LP1"]}}],
    )
    assert refusals(wanting, LITMOS) == []


def test_each_missing_capability_is_one_line_naming_its_key():
    wanting = connection(
        groups=["org"],
        rules=[
            {"name": "all", "assign": {"courses": ["C1"]}},
            {"name": "paths", "assign": {"learning_paths": ["LP1"]}},
        ],
        deprovision={"on_termination": "deactivate", "on_absent": "ignore"},
    )
    assert refusals(wanting, BARE, "connections.x") == [
        "connections.x.groups: bare has no groups to push; remove `groups` from this connection",
        "connections.x.rules[1] (paths): bare has no learning paths; assign courses instead",
        "connections.x.deprovision.on_termination: bare cannot deactivate an account; "
        'choose "ignore" (or the vendor\'s own leaver option)',
    ]


def test_a_connection_within_the_vendors_means_is_not_refused():
    modest = connection(deprovision={"on_termination": "ignore", "on_absent": "ignore"})
    assert refusals(modest, BARE) == []


def test_the_plan_refuses_before_reading_anything():
    from syncd.plan import desire

    with pytest.raises(ConfigError, match="has no groups"):
        desire(None, connection(groups=["org"]), BARE, today=None)  # type: ignore[arg-type]


def test_a_vendor_that_blanks_unsent_fields_gets_every_field_with_each_update():
    from syncd.plan import Mirror, apply, build_plan
    from syncd.plan.ops import UpdateUser
    from tests.unit.plan.kit import LITMOS_LIKE, person, roster
    from tests.unit.plan.kit import connection as plan_connection

    def planned(rows, profile, mirror):
        return build_plan(
            roster(rows), plan_connection(), profile, mirror, today=TODAY, name="main"
        )

    before = [person("E1")]
    after = [person("E1", title="Returner")]
    for profile, complete in (
        (LITMOS_LIKE, False),
        (replace(LITMOS_LIKE, complete_updates=True), True),
    ):
        mirror = apply(planned(before, profile, Mirror.empty()), Mirror.empty())
        (update,) = [op for op in planned(after, profile, mirror).ops if isinstance(op, UpdateUser)]
        assert update.changes == (("JobTitle", "Engineer", "Returner"),)
        if complete:
            assert dict(update.attrs) == {
                "UserName": after[0]["username"],
                "FirstName": after[0]["first_name"],
                "LastName": after[0]["last_name"],
                "Email": after[0]["email"],
                "JobTitle": "Returner",
            }
            assert [name for name, _ in update.attrs] == list(LITMOS_LIKE.default_fields)
        else:
            assert update.attrs == ()


def test_an_update_without_attrs_keeps_the_key_it_had_before_attrs_existed():
    """Ops already waiting in an outbox were keyed without ``attrs``: the same update
    planned again must find them, not be queued a second time."""
    from syncd.plan.ops import UpdateUser, digest

    changes = (("JobTitle", "Engineer", "Returner"),)
    old_content = {"external_id": "E1", "changes": changes, "match_value": None}
    assert UpdateUser(external_id="E1", changes=changes).key == (
        f"update_user:E1:{digest(old_content)}"
    )
    complete = UpdateUser(external_id="E1", changes=changes, attrs=(("JobTitle", "Returner"),))
    assert complete.key != UpdateUser(external_id="E1", changes=changes).key
