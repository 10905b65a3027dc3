"""The planning pipeline leaves the process as it found it: a long-running service plans
in the same process many times, so no collector state, allocator setting or skipped exit
handler may outlive one plan."""

from __future__ import annotations

import gc
import subprocess
import sys
from datetime import date
from pathlib import Path

from syncd.config import load
from syncd.pipeline.plan import plan_connections

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "example.toml"


def test_planning_leaves_the_garbage_collector_as_it_was() -> None:
    gc.unfreeze()
    planned = plan_connections(load(EXAMPLE), None, today=date(2026, 1, 15))
    assert planned and planned[0].plan.ops, "the example has people to create"
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0, "nothing is frozen out of later collections"


def test_syncd_plan_ends_through_the_ordinary_exit(tmp_path: Path) -> None:
    """Exit handlers run (log handlers flush, temporary files go): no ``os._exit``."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('exit handlers ran', file=sys.stderr))\n"
        "from syncd.cli import main\n"
        f"sys.argv = ['syncd', 'plan', '--config', {str(EXAMPLE)!r}, '--format', 'json']\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "exit handlers ran" in proc.stderr
