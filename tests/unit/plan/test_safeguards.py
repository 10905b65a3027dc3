"""Safeguards with ``on_trip = "refuse"`` refuse a whole plan, name the limit and the numbers,
and can be overridden (holding only the risky ops: test_hold_selection.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.errors import SafeguardTripped
from syncd.plan import Mirror, Plan, apply, build_plan, check_safeguards
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
STAFF = [person(f"E{i:03d}") for i in range(100)]


def synced(rows: list[dict[str, Any]]) -> Mirror:
    first = build_plan(roster(rows), connection(), LITMOS_LIKE, Mirror.empty(), today=TODAY)
    return apply(first, Mirror.empty())


MIRROR = synced(STAFF)


def plan_for(
    rows: list[dict[str, Any]],
    *,
    previous_rows: int | None = None,
    allow: bool = False,
    **limits: Any,
) -> Plan:
    safeguards = {"max_changes": 10_000, "on_trip": "refuse", **limits}
    return build_plan(
        roster(rows),
        connection(safeguards=safeguards),
        LITMOS_LIKE,
        MIRROR,
        today=TODAY,
        name="main",
        previous_rows=previous_rows,
        allow_mass_change=allow,
    )


def refused_by(plan: Plan) -> str:
    assert plan.refusal is not None
    with pytest.raises(SafeguardTripped) as caught:
        check_safeguards(plan)
    assert caught.value.limit == plan.refusal.limit
    assert caught.value.exit_code == 3
    return str(caught.value)


def test_truncated_export_is_refused_by_the_defaults() -> None:
    plan = build_plan(
        roster(STAFF[:30]),
        connection(safeguards={"on_trip": "refuse"}),
        LITMOS_LIKE,
        MIRROR,
        today=TODAY,
        name="main",
        previous_rows=100,
    )
    message = refused_by(plan)
    assert plan.refusal is not None and plan.refusal.limit == "max_deactivations"
    assert "connection `main`" in message and "70 deactivations" in message and "50" in message
    tripped = {c.limit for c in plan.checks if c.tripped}
    assert tripped == {"max_deactivations", "max_deactivation_percent", "min_source_ratio"}


def test_max_deactivations_absolute() -> None:
    leavers = [person(p["employee_id"], active=False) if i < 3 else p for i, p in enumerate(STAFF)]
    assert plan_for(leavers, max_deactivations=3, max_deactivation_percent=100).refusal is None
    plan = plan_for(leavers, max_deactivations=2, max_deactivation_percent=100)
    assert "3 deactivations/deletions, limit max_deactivations = 2" in refused_by(plan)


def test_max_deactivation_percent_of_active_synced_population() -> None:
    leavers = [person(p["employee_id"], active=False) if i < 11 else p for i, p in enumerate(STAFF)]
    plan = plan_for(leavers, max_deactivations=1000, max_deactivation_percent=10)
    message = refused_by(plan)
    assert plan.refusal is not None and plan.refusal.limit == "max_deactivation_percent"
    assert "11 of 100 active synced users (11.0%)" in message and "10%" in message
    ten = [person(p["employee_id"], active=False) if i < 10 else p for i, p in enumerate(STAFF)]
    assert plan_for(ten, max_deactivations=1000, max_deactivation_percent=10).refusal is None


def test_max_changes() -> None:
    hires = STAFF + [person(f"N{i}") for i in range(5)]
    plan = plan_for(hires, max_changes=4)
    assert "changes, limit max_changes = 4" in refused_by(plan)
    assert plan_for(hires, max_changes=len(plan.ops)).refusal is None


def test_source_shrink_against_the_last_accepted_export() -> None:
    plan = plan_for(
        STAFF[:89], previous_rows=100, max_deactivations=1000, max_deactivation_percent=100
    )
    assert "89 rows, 89% of the 100 of the last accepted one" in refused_by(plan)
    assert (
        plan_for(
            STAFF[:90], previous_rows=100, max_deactivations=1000, max_deactivation_percent=100
        ).refusal
        is None
    )
    assert all(c.limit != "min_source_ratio" for c in plan_for(STAFF[:10]).checks)


def test_allow_mass_change_flag_or_config_lets_the_plan_through() -> None:
    by_flag = plan_for(STAFF[:10], previous_rows=100, allow=True)
    assert by_flag.refusal is None and by_flag.overridden
    assert any(c.tripped for c in by_flag.checks)
    check_safeguards(by_flag)
    by_config = plan_for(STAFF[:10], previous_rows=100, allow_mass_change=True)
    assert by_config.refusal is None and by_config.overridden


def test_summary_reports_the_refusal() -> None:
    summary = plan_for(STAFF[:10], previous_rows=100).summary()
    assert summary["status"] == "refused"
    assert summary["safeguards"]["refusal"]["limit"] == "max_deactivations"
    assert summary["safeguards"]["refusal"]["value"] == 90


def test_a_listing_missing_most_synced_accounts_refuses_from_the_population_floor() -> None:
    from syncd.config import SafeguardConfig
    from syncd.plan.safeguards import listed_share

    config = SafeguardConfig()
    wrong = listed_share(config, synced=100, gone=80)
    assert wrong.tripped and wrong.refuses and wrong.label == "min_known_share[listing]"
    assert "only 20 of the 100 accounts syncd synced (20%)" in wrong.message
    assert not listed_share(config, synced=100, gone=50).tripped, "half still there"
    assert not listed_share(config, synced=10, gone=10).tripped, "below the population floor"
    assert not listed_share(config, synced=0, gone=0).tripped
