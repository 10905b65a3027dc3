"""A person's HRIS key changes (the source's ``previous_key``): `syncd reconcile` keeps the
account instead of making a new one and deactivating the old.

Enabley renames the account with one ``identityManagement`` call; Litmos knows accounts by
its own id, so the rekey there costs no call at all. Simulators in this process, the CLI
in-process (``Setup.syncd``), calls counted by the simulators' own counters.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from syncd.sandbox.running import RunningSandbox
from syncd.state.db import create_engine_for
from syncd.state.mirror import load_mirror
from tests.e2e.kit import (
    HEADER,
    SOURCE_CONFIG,
    EnableySetup,
    Setup,
    company,
    make_enabley_setup,
    make_setup,
    mirror,
    result,
)

PREVIOUS = "Previous Employee ID"
REKEY = "PUT /api/v2/users/identityManagement"


def with_previous_key(config: str) -> str:
    """A source config that reads the previous key column (``previous_key``)."""
    config = config.replace(
        'key = "employee_id"\n', 'key = "employee_id"\nprevious_key = "previous_employee_id"\n'
    )
    return config.replace(
        'status = "Status" }', f'status = "Status", previous_employee_id = "{PREVIOUS}" }}'
    )


def write_rows(path: Path, rows: Sequence[dict[str, str]]) -> None:
    """The export with the previous key column (empty unless a row says otherwise)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*HEADER, PREVIOUS], restval="")
        writer.writeheader()
        writer.writerows(rows)


def enabley_world(sandbox: RunningSandbox, folder: Path, db_url: str, rows) -> EnableySetup:
    return make_enabley_setup(
        sandbox, folder, db_url, rows, source=with_previous_key(SOURCE_CONFIG), write=write_rows
    )


def requests(setup: Setup) -> Counter[str]:
    """Every request the simulator answered, by "METHOD template"."""
    assert setup.sandbox.admin is not None
    return Counter(
        {
            endpoint: sum(statuses.values())
            for endpoint, statuses in setup.sandbox.admin.counters()["requests"].items()
        }
    )


def writes(calls: Counter[str]) -> int:
    return sum(n for endpoint, n in calls.items() if endpoint.split(" ")[0] != "GET")


def synced_keys(db_url: str) -> set[str]:
    """The HRIS keys syncd's mirror knows the connection's accounts by."""
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as db:
            return set(load_mirror(db, "lms").users["external_id"].tolist())
    finally:
        engine.dispose()


def rekeyed(rows: list[dict[str, str]], at: int, new: str) -> list[dict[str, str]]:
    """The export after the HRIS gave the person at ``at`` the key ``new``."""
    changed = [dict(r) for r in rows]
    changed[at].update({PREVIOUS: changed[at]["Employee ID"], "Employee ID": new})
    return changed


def test_enabley_renames_the_account_with_one_call(sandbox, db_url, tmp_path):
    rows = company(6)
    setup = enabley_world(sandbox("enabley"), tmp_path, db_url, rows)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    old = rows[2]["Employee ID"]
    account = setup.sandbox.simulator.account
    group = next(g for g in account.groups.values() if old in g.members)

    write_rows(setup.export, rekeyed(rows, 2, "E-9002"))
    before = requests(setup)
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    spent = requests(setup) - before
    spent.pop("POST /api/v1/token", None)
    assert spent == Counter({REKEY: 1}), "one rename, no create, no status change"
    assert old not in account.users and "E-9002" in account.users
    user = account.users["E-9002"]
    assert user.is_active and user.username == rows[2]["Username"]
    assert "E-9002" in group.members and old not in group.members
    assert "E-9002" in account.channels["SAFE101"].users
    assert len(account.users) == 6, "no account twice"

    again = requests(setup)
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    assert writes(requests(setup) - again) == 0, "a second run writes nothing"


def test_litmos_moves_the_key_in_the_mirror_without_a_call(litmos_sandbox, db_url, tmp_path):
    rows = company(6)
    setup = make_setup(litmos_sandbox, tmp_path, db_url, rows)
    setup.config.write_text(with_previous_key(setup.config.read_text()), encoding="utf-8")
    write_rows(setup.export, rows)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    old = rows[2]["Employee ID"]
    held = mirror(db_url)

    write_rows(setup.export, rekeyed(rows, 2, "E-9002"))
    before = requests(setup)
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    assert requests(setup) - before == Counter(), "the rekey makes no vendor call"
    assert mirror(db_url) == held, "the same accounts, teams, members and courses"
    users = dict(litmos_sandbox.simulator.store.users)
    assert len(users) == 6 and all(u.fields["Active"] for u in users.values())
    keys = synced_keys(db_url)
    assert "E-9002" in keys and old not in keys and len(keys) == 6

    again = requests(setup)
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    assert writes(requests(setup) - again) == 0
