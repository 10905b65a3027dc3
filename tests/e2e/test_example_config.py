"""The shipped `config/example.toml` works as documented, from an empty folder.

It is the first thing a new user runs, so it is run here exactly as the README tells them:
`syncd config check`, then `syncd reconcile` against the built-in Litmos simulator (no
account, no secret), which must sync the sample export completely.
"""

from __future__ import annotations

import json
import tomllib

from syncd.sandbox.litmos import create_simulator
from tests.e2e.kit import EXAMPLE, shown, syncd


def test_every_key_of_the_example_is_accepted(tmp_path):
    proc = syncd("config", "check", str(EXAMPLE), cwd=tmp_path)
    assert proc.returncode == 0, shown(proc)
    assert "is valid" in proc.stdout


def test_rule_courses_exist_in_the_sandbox_seed():
    config = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    conn = config["connections"]["litmos"]
    seed_path = conn["base_url"].removeprefix("sandbox:")
    seed = (EXAMPLE.parent / seed_path).read_text(encoding="utf-8")
    ids = set(create_simulator().seed(json.loads(seed))["courses"].values())
    wanted = {course for rule in conn["rules"] for course in rule["assign"]["courses"]}
    assert wanted and wanted <= ids


def test_reconcile_from_an_empty_folder_syncs_the_sample(tmp_path):
    proc = syncd("reconcile", "--config", str(EXAMPLE), cwd=tmp_path)
    assert proc.returncode == 0, shown(proc)
    out = proc.stdout
    assert "litmos (litmos): plan of" in out
    for op in ("create_user", "create_group", "add_members", "assign_courses"):
        assert op in out
    assert "in sync" in out
    assert "litmos-sandbox-apikey" not in out + proc.stderr
    assert (tmp_path / "syncd.db").exists(), "the state database is in the working folder"
    assert "Context impl" not in proc.stderr + out, "alembic's chatter is not the user's business"


def test_the_sandbox_account_is_kept_so_a_rerun_has_nothing_to_do(tmp_path):
    """The quick start's promise: run it again and nothing is sent; start over by deleting.
    (One connection here; ``test_three_vendors`` reruns all three.)"""
    only = ("--connection", "litmos")
    first = syncd("reconcile", "--config", str(EXAMPLE), *only, cwd=tmp_path)
    assert first.returncode == 0, shown(first)
    snapshot = tmp_path / "syncd-sandbox-litmos.state"
    assert snapshot.exists()
    again = syncd("reconcile", "--config", str(EXAMPLE), *only, cwd=tmp_path)
    assert again.returncode == 0, shown(again)
    assert "plan of 0 op(s), 0 vendor call(s)" in again.stdout
    snapshot.unlink()
    over = syncd("reconcile", "--config", str(EXAMPLE), *only, cwd=tmp_path)
    assert over.returncode == 0, shown(over)
    assert "create_user" in over.stdout, "without its snapshot the sandbox starts from its seed"


def test_a_previous_key_the_scorm_connection_cannot_use_is_a_warning_not_a_refusal(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'key = "employee_id"', 'key = "employee_id"\nprevious_key = "job_title"', 1
    )
    assert "previous_key" in text
    config = tmp_path / "syncd.toml"
    config.write_text(text, encoding="utf-8")
    (tmp_path / "sample").symlink_to(EXAMPLE.parent / "sample")
    proc = syncd("config", "check", str(config), cwd=tmp_path)
    assert proc.returncode == 0, shown(proc)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "connections.scorm: scormcloud cannot change" in warnings[0]
