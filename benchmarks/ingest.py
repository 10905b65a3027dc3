"""How long reading and validating a large HRIS export takes, and how much memory, per process.

Generates (once, cached) a seeded realistic export with ``benchmarks/generate.py``: by
default 1,000,000 rows, about 100 MB, with padded values, ``Last, First M`` names, two-digit
year dates, status words, unknown managers and 0.1 % bad rows of every kind. Each
measurement then runs in a fresh child process, so peak RSS is that of the whole process
(``ru_maxrss`` of the child, from ``wait4``) and nothing is warm from an earlier run:

- ``read_roster``: syncd's read + map + validate + groups, the whole EXTRACT stage;
- ``pandas.read_csv``: plain ``pandas.read_csv(path, dtype=str)`` of the same file, the
  reference the issue compares against.

``call s`` is the measured call alone, timed inside the child; ``process s`` is the child
from start to exit (interpreter start and imports included). Each is the median of
``--repeat`` runs; peak RSS is the largest seen.

    python benchmarks/ingest.py                       # 1,000,000 rows, 3 runs each
    python benchmarks/ingest.py --newline-rate 0.01   # 1 % of rows with a quoted line break
    python benchmarks/ingest.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "syncd-benchmarks"


def export_file(rows: int, seed: int, cache: Path, newline_rate: float = 0.0) -> Path:
    """The cached export for (rows, seed) and this generator, generated on first use.

    Generated in a child process: a process's peak RSS survives ``fork`` + ``exec`` into
    its children's ``ru_maxrss``, so the parent must never grow large itself.
    """
    version = hashlib.sha256((HERE / "generate.py").read_bytes()).hexdigest()[:8]
    wrapped = f"-nl{newline_rate:g}" if newline_rate else ""
    # A changed generator makes a new file.
    path = cache / f"roster-{rows}-seed{seed}{wrapped}-{version}.csv"
    if not path.exists():
        partial = path.with_suffix(".part")
        script = str(HERE / "generate.py")
        command = [sys.executable, script, str(rows), str(partial), "--seed", str(seed)]
        subprocess.run([*command, "--newline-rate", str(newline_rate)], check=True)
        partial.replace(path)
    return path


# --------------------------------------------------------------------------- child side


def child(kind: str, path: str) -> None:
    """Run one measured call in this (fresh) process and print its figures as JSON."""
    if kind == "read_roster":
        sys.path.insert(0, str(HERE))
        from generate import SOURCE

        from syncd.config import SourceConfig
        from syncd.hris import read_roster

        # What a real source would add: a derived username and a second grouping.
        source = SourceConfig.model_validate(
            {
                **SOURCE,
                "derived": {"username": "{employee_id}@acme.com"},
                "groups": [*SOURCE["groups"], {"name": "location", "columns": ["location"]}],
            }
        )
        started = time.perf_counter()
        roster = read_roster(path, source, today=date(2025, 1, 1))
        seconds = time.perf_counter() - started
        result = {
            "rows": roster.source.rows_read,
            "accepted": roster.rows_accepted,
            "rejected": roster.rows_rejected,
            "warnings": len(roster.warnings),
            "groups": len(roster.groups),
        }
    else:
        import pandas as pd

        started = time.perf_counter()
        frame = pd.read_csv(path, dtype=str)
        seconds = time.perf_counter() - started
        result = {"rows": len(frame)}
    print(json.dumps({"call": seconds, **result}))


# --------------------------------------------------------------------------- parent side


def measure(kind: str, path: Path) -> dict[str, float]:
    """One child process: its wall time, peak RSS and what it printed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind}: child failed with exit code {proc.returncode}")
    figures = json.loads(output)
    figures["process"] = wall
    figures["rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--newline-rate",
        type=float,
        default=0.0,
        help="share of rows with a line break inside a quoted value (a slower parse)",
    )
    parser.add_argument("--only", choices=["read_roster", "pandas"], help="measure one of them")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    path = export_file(args.rows, args.seed, args.cache, args.newline_rate)
    print(f"export: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.rows:,} rows)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    kinds = [args.only] if args.only else ["read_roster", "pandas"]
    print(f"{'measure':<16}{'call s':>8}{'process s':>11}{'peak RSS MB':>13}  result")
    for kind in kinds:
        runs = [measure(kind, path) for _ in range(args.repeat)]
        call = statistics.median(r["call"] for r in runs)
        process = statistics.median(r["process"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        last = runs[-1]
        if kind == "read_roster":
            result = (
                f"{last['rows']:,.0f} read, {last['accepted']:,.0f} accepted, "
                f"{last['rejected']:,.0f} rejected, {last['warnings']:,.0f} warnings, "
                f"{last['groups']:,.0f} groups"
            )
        else:
            result = f"{last['rows']:,.0f} rows"
        label = "pandas.read_csv" if kind == "pandas" else kind
        print(f"{label:<16}{call:>8.2f}{process:>11.2f}{rss:>13.0f}  {result}")


if __name__ == "__main__":
    main()
