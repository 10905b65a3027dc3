"""Running `python -m syncd` as a user does, for the end-to-end tests (plain helpers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"


def syncd(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, in ``cwd``, with no SYNCD_* tuning from the outside."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    environ.update({"PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=environ,
        cwd=cwd,
        check=False,
    )


def shown(proc: subprocess.CompletedProcess[str]) -> str:
    """Everything about a finished command, for an assertion message."""
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
