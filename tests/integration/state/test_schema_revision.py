"""The schema revision read without alembic agrees with alembic's, on both databases.

Read-only commands (`syncd plan`) check the revision this way so that they never import
alembic, a quarter of a second of every run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from syncd.state import db

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_head_is_alembics_head():
    assert db.shipped_head() == db.head_revision()


def test_recorded_revision_follows_upgrades_and_downgrades(db_url):
    engine = db.create_engine_for(db_url)
    try:
        assert db.recorded_revision(engine) is None
        db.upgrade(engine)
        assert db.recorded_revision(engine) == db.current_revision(engine) == db.shipped_head()
        db.downgrade(engine, "base")
        assert db.recorded_revision(engine) is None
    finally:
        engine.dispose()


def test_the_command_line_loads_without_alembic():
    probe = "import sys, syncd.cli; print('alembic' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.stdout.strip() == "False"
