"""`syncd reconcile` using the vendors' list forms, against the simulators over real HTTP:
SCORM Cloud private invitations batched per course, Enabley membership ``replace`` for a
mover. Call counts are the simulators' own counters, held against what `--dry-run` priced;
afterwards the mirror equals the vendor and a second run writes nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from syncd.plan.model import Mirror
from syncd.sandbox.running import RunningSandbox
from syncd.state.db import create_engine_for
from syncd.state.mirror import load_mirror
from tests.e2e.kit import (
    ENABLEY_UNPRICED,
    Setup,
    company,
    make_enabley_setup,
    make_scorm_setup,
    planned_calls,
    result,
    write_export,
)

INVITE = "POST /api/v2/invitations/private"
JOB = "GET /api/v2/invitations/private/{invitationId}/jobStatus"
INVITED = (
    'options = { assign_by = "private_invitation", creating_user_email = "hr@corp.test", '
    "job_poll_seconds = 0 }"
)


def calls(sandbox: RunningSandbox, *unpriced: str) -> Counter[str]:
    """Requests the simulator answered, by "METHOD template", ``unpriced`` left out."""
    assert sandbox.admin is not None
    found: Counter[str] = Counter()
    for endpoint, statuses in sandbox.admin.counters()["requests"].items():
        if endpoint not in unpriced:
            found[endpoint] = sum(statuses.values())
    return found


def mirror_of(setup: Setup) -> Mirror:
    engine = create_engine_for(setup.db_url)
    try:
        with engine.connect() as db:
            return load_mirror(db, "lms", decode_attrs=True)
    finally:
        engine.dispose()


def writes(spent: Counter[str]) -> int:
    return sum(n for endpoint, n in spent.items() if not endpoint.startswith("GET "))


# --------------------------------------------------------------------------- SCORM Cloud


@pytest.fixture
def invited(sandbox, db_url, tmp_path):
    """A SCORM Cloud world whose connection assigns by private invitation."""
    running = sandbox("scormcloud")
    running.admin.post("/settings", {"async_delay": 0})

    def build(rows):
        setup = make_scorm_setup(running, tmp_path, db_url, rows)
        text = setup.config.read_text(encoding="utf-8")
        setup.config.write_text(text.replace('options = { leavers = "keep" }', INVITED))
        return setup

    return build


def scorm_holders(sandbox: RunningSandbox) -> set[tuple[str, str]]:
    """(learner id, course id) of every registration, read through the vendor's API."""
    found: set[tuple[str, str]] = set()
    auth = (sandbox.credentials["app_id"], sandbox.credentials["secret_key"])
    params: dict[str, str] = {}
    with httpx.Client(base_url=f"{sandbox.base_url}/api/v2", auth=auth, timeout=5) as http:
        while True:
            page = http.get("/registrations", params=params).json()
            found |= {(r["learner"]["id"], r["course"]["id"]) for r in page["registrations"]}
            if not page.get("more"):
                return found
            params = {"more": page["more"]}


def test_ten_hires_to_one_course_are_one_invitation_and_its_job_status(invited):
    rows = [dict(r, Department="Support") for r in company(10)]
    setup = invited(rows)
    priced = planned_calls(setup)
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    spent = calls(setup.sandbox)
    assert spent == Counter({INVITE: 1, JOB: 1}) and priced == 2, spent
    wanted = {(r["Email"], "SAFE101") for r in rows}
    assert scorm_holders(setup.sandbox) == wanted
    known = mirror_of(setup)
    by_id = dict(zip(known.users["external_id"], known.users["remote_id"], strict=True))
    recorded = {
        (by_id[e], c)
        for e, c in zip(known.assignments["external_id"], known.assignments["item_id"], strict=True)
    }
    assert recorded == wanted
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert writes(calls(setup.sandbox) - spent) == 0


def test_an_address_registered_by_hand_counts_as_done_in_the_same_invitation(invited):
    rows = [dict(r, Department="Support") for r in company(4)]
    setup = invited(rows)
    taken = rows[1]["Email"]
    auth = (setup.sandbox.credentials["app_id"], setup.sandbox.credentials["secret_key"])
    with httpx.Client(base_url=f"{setup.sandbox.base_url}/api/v2", auth=auth) as http:
        body = {"courseId": "SAFE101", "registrationId": "by-hand", "learner": {"id": taken}}
        made = http.post("/registrations", json=body)
        assert made.is_success, made.text
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    assert scorm_holders(setup.sandbox) == {(r["Email"], "SAFE101") for r in rows}
    spent = calls(setup.sandbox)
    assert spent[INVITE] == 1 and spent["POST /api/v2/registrations"] == 1
    assert len(mirror_of(setup).assignments) == 4
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert writes(calls(setup.sandbox) - spent) == 0


# --------------------------------------------------------------------------- Enabley

REPLACE = 'options = { memberships = "replace" }'


@pytest.fixture
def enabley_world(sandbox, db_url, tmp_path: Path):
    running = sandbox("enabley")
    return lambda rows, options="": make_enabley_setup(
        running, tmp_path, db_url, rows, options=options
    )


def enabley_groups(setup: Setup, uid: str) -> set[str]:
    account = setup.sandbox.simulator.account  # type: ignore[attr-defined]
    return {g.identifier for g in account.groups.values() if uid in g.members}


@pytest.mark.parametrize(
    ("options", "cost"), [(REPLACE, 1), ("", 2)], ids=["replace", "add_remove"]
)
def test_a_mover_costs_one_call_with_replace_and_two_without(enabley_world, options, cost):
    rows = company(10)
    setup = enabley_world(rows, options)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    moved = [dict(r) for r in rows]
    uid = rows[0]["Employee ID"]
    assert rows[0]["Department"] == "Sales" and rows[1]["Department"] == "Marketing"
    moved[0]["Department"] = "Marketing"  # a group that exists already: no group write
    write_export(setup.export, moved)
    before = calls(setup.sandbox, *ENABLEY_UNPRICED)
    priced = planned_calls(setup)
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    spent = calls(setup.sandbox, *ENABLEY_UNPRICED) - before
    assert sum(spent.values()) == priced == cost, spent
    known = mirror_of(setup)
    by_key = dict(zip(known.groups["key"], known.groups["remote_id"], strict=True))
    mine = set(known.memberships[known.memberships["external_id"] == uid]["group_key"].astype(str))
    assert {by_key[k] for k in mine} == enabley_groups(setup, uid)
    assert mine == {"org:Commercial/Marketing"}
    mark = calls(setup.sandbox, *ENABLEY_UNPRICED)
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert writes(calls(setup.sandbox, *ENABLEY_UNPRICED) - mark) == 0
