"""`syncd reconcile` plans through the one planning path: on the same export and state it
makes the plan `syncd plan` makes, op for op, including the field updates whose fields
the plan path fetches only for the people it compares."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from syncd.config import load
from syncd.pipeline.plan import plan_connections
from syncd.pipeline.reconcile import reconcile
from syncd.queue.worker import WorkerSettings

ROOT = Path(__file__).resolve().parents[3]
TODAY = date(2026, 1, 15)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example configuration in a folder of its own (its state and sandbox account
    files land in the working directory)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "config" / "example.toml"


def test_a_dry_run_plans_what_syncd_plan_plans(example: Path) -> None:
    config = load(example)
    settings = WorkerSettings(max_wait_seconds=0.0)
    first = reconcile(config, today=TODAY, settings=settings)
    assert first[0].plan is not None and first[0].plan.ops, "the example has people to sync"
    with sqlite3.connect(example.parent.parent / "syncd.db") as db:
        # Each vendor's own first-name field (Litmos `FirstName`, the others `firstName`).
        changed = db.execute(
            "UPDATE mirror_users SET attrs = json_set(attrs, CASE connection WHEN 'litmos'"
            " THEN '$.FirstName' ELSE '$.firstName' END, 'Stale'),"
            " attrs_hash = 'stale' WHERE rowid % 3 = 0"
        ).rowcount
    assert changed, "some synced people now differ from the export"

    dry = reconcile(load(example), dry_run=True, today=TODAY, settings=settings)
    planned = plan_connections(load(example), None, today=TODAY)

    assert [r.name for r in dry] == [p.name for p in planned]
    for result, plan in zip(dry, planned, strict=True):
        assert result.plan is not None
        assert result.plan.ops, "the stale people are planned for an update"
        assert result.plan.ops == plan.plan.ops
        assert result.plan.warnings == plan.plan.warnings
        assert len(result.plan.skipped) == len(plan.plan.skipped)
