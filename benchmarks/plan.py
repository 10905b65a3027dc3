"""How long `syncd plan` takes on a large company, next to a plain CSV diff of the same files.

For each size, two seeded snapshots of a realistic export (``benchmarks/generate.py``): the
previous one, and the current one with ``--churn`` of the people changed, split evenly over
hires, leavers (half marked terminated, half gone from the file), moves to another
department (and sometimes division) and attribute edits (surname or work email). The state
database (a SQLite file) holds the mirror of the previous snapshot as a completed first sync
would have left it, and the previous export as the last accepted one (so the source-shrink
guard is measured too). Setup is not timed.

Timed in turn, run after run (so that a busy minute falls on all three alike), each as a
whole child process (wall time, and peak RSS from ``wait4``):

- ``python -m syncd plan --config ... --format json``: load the config, read and validate
  the export, load the mirror from the state database, evaluate the rules, diff, measure the
  safeguards and print the summary;
- ``python -m syncd reconcile --config ... --dry-run``: the command that acts, planning the
  same files by the same path (the benchmark checks that both plan the same ops and calls);
- ``csv-diff previous.csv current.csv --key "Employee ID"`` (PyPI ``csv-diff``, the ``bench``
  extra) on the same two files: a plain keyed diff, no validation, rules or plan.

Then once: ``syncd plan`` of the previous export against its own mirror (nothing changed:
it must plan zero ops and zero calls).

``--stages`` adds one more child per size that times the stages inside one process
(imports, read, mirror load without the users' fields and its sets encoded for the diff,
desired state, the fields the diff needs, diff), for profiling; it is not part of the
comparison.

    pip install -e '.[bench]'
    python benchmarks/plan.py                          # 100,000 and 1,000,000 people
    python benchmarks/plan.py --sizes 100000 --runs 5 --stages
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 1, 15)
KEY = "Employee ID"
CONNECTION = "litmos"

CONFIG = """\
[state]
url = "sqlite:///{db}"
auto_upgrade = false

[logging]
level = "warning"
format = "json"

[sources.hris]
path = "{export}"
key = "employee_id"
columns = {{ employee_id = "Employee ID", full_name = "Employee Name", email = "Work Email", \
division = "Division", department = "Department", location = "Location", \
manager_id = "Manager ID", hire_date = "Hire Date", termination_date = "Termination Date", \
status = "Employment Status" }}
derived = {{ username = "{{employee_id}}@acme.example" }}
name_split = {{ column = "full_name", format = "last_first" }}
status = {{ active = ["active", "on leave"], terminated = ["terminated", \
"voluntarily terminated", "involuntarily terminated", "retired"] }}

[[sources.hris.groups]]
name = "org"
columns = ["division", "department"]

[connections.{connection}]
vendor = "litmos"
# Never called (`syncd plan` makes no calls); a `sandbox:` URL would plan against an
# empty mirror, as its account file does not exist.
base_url = "https://api.litmos.com/v1.svc"
credentials = {{ api_key = "not-used-by-plan", source = "syncd-bench" }}
match_key = "username"
groups = ["org"]
fields = {{ UserName = "{{username}}", FirstName = "{{first_name}}", \
LastName = "{{last_name}}", Email = "email", Department = "{{division}} / {{department}}", \
City = "location" }}

[connections.{connection}.safeguards]
max_deactivations = 1000000
max_deactivation_percent = 100
max_changes = 10000000
min_source_ratio = 0.5

[[connections.{connection}.rules]]
name = "everyone"
assign = {{ courses = ["C-CONDUCT", "C-SECURITY-BASICS"] }}

[[connections.{connection}.rules]]
name = "new hires"
when = [{{ hired_within_days = 90 }}]
assign = {{ courses = ["C-ONBOARDING"], learning_paths = ["LP-FIRST-WEEKS"] }}

[[connections.{connection}.rules]]
name = "sales"
when = [{{ member_of = "org:Sales" }}]
assign = {{ courses = ["C-CRM"], learning_paths = ["LP-SALES"] }}

[[connections.{connection}.rules]]
name = "security team"
when = [{{ field = "department", equals = "Security" }}]
assign = {{ courses = ["C-SECURE-CODE"] }}

[[connections.{connection}.rules]]
name = "europe"
when = [{{ field = "location", regex = "(UK|PL)$" }}, {{ field = "division", not = "Sales" }}]
assign = {{ courses = ["C-GDPR"] }}

[[connections.{connection}.rules]]
name = "warehouse floor"
when = [{{ field = "department", in = ["Warehouse", "Logistics", "Facilities"] }}]
assign = {{ courses = ["C-FORKLIFT", "C-FIRST-AID"] }}
"""


# --------------------------------------------------------------------------- snapshots


def _generator() -> Any:
    """``benchmarks/generate.py``, imported only in the setup child (it pulls in pandas)."""
    sys.path.insert(0, str(HERE))
    import generate

    return generate


def _mm_dd_yy(day: date) -> str:
    return day.strftime("%m/%d/%y")


def churn(previous: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """The next export: ``rate`` of the people changed, evenly over the four kinds of change.

    Only active people with a clean row are changed (a leaver does not move department), so
    every change is one the plan must act on.
    """
    import numpy as np
    import pandas as pd

    generate = _generator()
    rng = np.random.default_rng(seed)
    current = previous.copy()
    per_kind = max(1, round(len(previous) * rate / 4))
    status = current["Employment Status"].str.strip().str.lower()
    ids = current[KEY]
    clean = (
        status.isin(["active", "on leave"]).to_numpy()
        & (ids != "").to_numpy()
        & ~ids.duplicated(keep=False).to_numpy()
        & (current["Work Email"] != "not-an-email").to_numpy()
        & (current["Hire Date"] != "13/45/19").to_numpy()
    )
    chosen = rng.choice(np.flatnonzero(clean), size=3 * per_kind, replace=False)
    leavers, movers, edited = np.split(chosen, 3)
    gone, terminated = np.split(leavers, [len(leavers) // 2])
    current.iloc[terminated, current.columns.get_loc("Employment Status")] = "Terminated"
    current.iloc[terminated, current.columns.get_loc("Termination Date")] = _mm_dd_yy(
        TODAY - timedelta(days=3)
    )
    departments = [(d, dept) for d, depts in generate.ORG.items() for dept in depts]
    for row in movers.tolist():
        old = (current.iat[row, 3].strip(), " ".join(current.iat[row, 4].split()))
        options = [pair for pair in departments if pair != old]
        division, department = options[int(rng.integers(0, len(options)))]
        current.iat[row, 3] = division
        current.iat[row, 4] = department
    surname, email = np.split(edited, [len(edited) // 2])
    names = current["Employee Name"].iloc[surname].str.split(",", n=1).str[1]
    current.iloc[surname, current.columns.get_loc("Employee Name")] = "Married-Name," + names
    current.iloc[email, current.columns.get_loc("Work Email")] = (
        "renamed." + current[KEY].iloc[email] + "@acme.com"
    )
    hires = generate.frame(per_kind, seed, bad_rate=0.0, unknown_manager_rate=0.0)
    first_new = int(pd.to_numeric(previous[KEY], errors="coerce").max()) + 1
    hires[KEY] = [str(first_new + i) for i in range(per_kind)]
    hires["Employment Status"] = "Active"
    hires["Termination Date"] = ""
    hires["Hire Date"] = _mm_dd_yy(TODAY - timedelta(days=5))
    current = current.drop(current.index[gone])
    current = pd.concat([current, hires], ignore_index=True)
    changes = {
        "hires": per_kind,
        "terminated": len(terminated),
        "absent": len(gone),
        "moves": len(movers),
        "surname_edits": len(surname),
        "email_edits": len(email),
    }
    return current, changes


# --------------------------------------------------------------------------- state


def _write_mirror(workdir: Path, previous_csv: Path) -> dict[str, int]:
    """Plan the previous export against an empty mirror and store that plan as done.

    The frames are built from the first plan's ops the way the worker records confirmed
    ops (``syncd.plan.apply`` semantics), but vectorised, so a million people take seconds.
    """
    import pandas as pd
    from sqlalchemy import insert

    from syncd.config import load
    from syncd.hris import read_roster
    from syncd.plan import Mirror, build_plan
    from syncd.plan.hashing import hash_frame, hashes_to_text
    from syncd.plan.ops import (
        AddMembers,
        AssignCourses,
        AssignLearningPaths,
        CreateGroup,
        CreateUser,
    )
    from syncd.state.db import create_engine_for, upgrade
    from syncd.state.models import (
        MirrorAssignment,
        MirrorGroup,
        MirrorMembership,
        MirrorUser,
        SourceFile,
    )
    from syncd.vendors import profile

    config = load(workdir / "previous.toml")
    conn = config.connections[CONNECTION]
    roster = read_roster(previous_csv, config.sources["hris"], today=TODAY)
    plan = build_plan(roster, conn, profile("litmos"), Mirror.empty(), today=TODAY)
    now = datetime.now(UTC)
    creates = [op for op in plan.ops if isinstance(op, CreateUser)]
    fields = [name for name, _ in creates[0].attrs]
    columns = {f: [op.attrs[i][1] for op in creates] for i, f in enumerate(fields)}
    ids = [op.external_id for op in creates]
    values = [op.match_value for op in creates]
    hashes = hashes_to_text(
        hash_frame(
            pd.Series(ids, dtype="str"),
            pd.Series(values, dtype="str"),
            {f: pd.Series(v, dtype="str") for f, v in columns.items()},
        )
    )
    users = [
        {
            "connection": CONNECTION,
            "external_id": op.external_id,
            "remote_id": f"R{op.external_id}",
            "match_value": op.match_value,
            "active": True,
            "attrs": dict(op.attrs),
            "attrs_hash": hashes[i],
            "updated_at": now,
        }
        for i, op in enumerate(creates)
    ]
    groups = [
        {
            "connection": CONNECTION,
            "key": op.group_key,
            "remote_id": f"T{n}",
            "name": op.name,
            "parent_key": op.parent_key or None,
            "updated_at": now,
        }
        for n, op in enumerate(plan.ops)
        if isinstance(op, CreateGroup)
    ]
    members = [
        {"connection": CONNECTION, "group_key": op.group_key, "external_id": person}
        for op in plan.ops
        if isinstance(op, AddMembers)
        for person in op.external_ids
    ]
    assigned = [
        {"connection": CONNECTION, "external_id": op.external_id, "kind": kind, "item_id": item}
        for op in plan.ops
        if isinstance(op, AssignCourses | AssignLearningPaths)
        for kind, items in (
            ("course", op.course_ids)
            if isinstance(op, AssignCourses)
            else ("learning_path", op.learning_path_ids),
        )
        for item in items
    ]
    url = f"sqlite:///{workdir / 'state.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    try:
        with engine.begin() as db:
            for model, rows in (
                (MirrorUser, users),
                (MirrorGroup, groups),
                (MirrorMembership, members),
                (MirrorAssignment, assigned),
            ):
                for start in range(0, len(rows), 50_000):
                    db.execute(insert(model), rows[start : start + 50_000])
            db.execute(
                insert(SourceFile).values(
                    source="hris",
                    path=str(previous_csv),
                    sha256=roster.source.sha256,
                    size=roster.source.size,
                    mtime=roster.source.mtime,
                    rows_read=roster.source.rows_read,
                    rows_accepted=roster.rows_accepted,
                    rows_rejected=roster.rows_rejected,
                    read_at=now,
                    accepted=True,
                )
            )
    finally:
        engine.dispose()
    return {
        "users": len(users),
        "groups": len(groups),
        "memberships": len(members),
        "assignments": len(assigned),
    }


def prepare(workdir: Path, size: int, rate: float, seed: int) -> dict[str, Any]:
    """Write both snapshots, both configs and the state database into ``workdir``."""
    generate = _generator()
    workdir.mkdir(parents=True, exist_ok=True)
    previous = generate.frame(size, seed)
    current, changes = churn(previous, rate, seed + 1)
    paths = {"previous": workdir / "previous.csv", "current": workdir / "current.csv"}
    paths["previous"].write_text(generate.render(previous), encoding="utf-8")
    paths["current"].write_text(generate.render(current), encoding="utf-8")
    db = workdir / "state.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    for name, export in paths.items():
        text = CONFIG.format(db=db, export=export, connection=CONNECTION)
        (workdir / f"{name}.toml").write_text(text, encoding="utf-8")
    mirror = _write_mirror(workdir, paths["previous"])
    return {
        "rows": {"previous": len(previous), "current": len(current)},
        "churn": changes,
        **mirror,
    }


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measured:
    """One child process: wall seconds, peak RSS in MiB, exit code."""

    seconds: float
    peak_mib: float
    code: int


def measure(argv: list[str], stdout: Path, cwd: Path) -> Measured:
    """Run ``argv`` as a child and take its own rusage (``wait4``), not the children's max."""
    with stdout.open("wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode not in (0, 2, 3) and err:
        raise RuntimeError(f"{argv[:4]} exited {child.returncode}: {err[-2000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, child.returncode)


STAGES = """
import json, sys, time
t0 = time.perf_counter()
from datetime import date
from syncd.config import load
from syncd.hris import read_roster
from syncd.plan import build_plan, desire
from syncd.plan.diff import index_mirror
from syncd.plan.users import attrs_needed, pair
from syncd.state.db import create_engine_for, session_factory
from syncd.state.mirror import load_mirror, with_user_attrs
from syncd.state.runs import previous_rows
from syncd.vendors import profile
import syncd.cli
t1 = time.perf_counter()
config = load(sys.argv[1]); today = date.fromisoformat(sys.argv[2]); name = sys.argv[3]
conn = config.connections[name]
roster = read_roster(config.source_path(conn.source), config.sources[conn.source], today=today)
t2 = time.perf_counter()
engine = create_engine_for(config.state.url)
with session_factory(engine)() as db:
    mirror = load_mirror(db, name, attrs=False); previous = previous_rows(db, conn.source)
    index = index_mirror(mirror)
    t3 = time.perf_counter()
    desired = desire(roster, conn, profile(conn.vendor), today=today, name=name)
    t4 = time.perf_counter()
    pairing = pair(desired, mirror.users)
    rows = attrs_needed(desired, mirror.users, None, pairing)
    mirror = with_user_attrs(db, name, mirror, rows)
    t5 = time.perf_counter()
plan = build_plan(None, conn, profile(conn.vendor), mirror, today=today, name=name,
                  previous_rows=previous, desired=desired, index=index, pairing=pairing)
t6 = time.perf_counter()
summary = plan.summary(limit=5)
t7 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "read_validate": t2 - t1, "load_mirror": t3 - t2,
                  "desire": t4 - t3, "mirror_attrs": t5 - t4, "diff": t6 - t5,
                  "summary": t7 - t6}))
"""


def csv_diff_command() -> list[str]:
    """The csv-diff console script next to this interpreter (no shell shim in the timing)."""
    script = Path(sys.executable).parent / "csv-diff"
    if script.exists():
        return [sys.executable, str(script)]
    found = shutil.which("csv-diff")
    if found is None:
        raise SystemExit("csv-diff is not installed: pip install -e '.[bench]'")
    return [found]


def bench_size(
    workdir: Path, size: int, rate: float, seed: int, runs: int, stages: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    # Setup runs in its own process: a child forked from a parent holding the snapshots
    # would report the parent's size as its own peak RSS (Linux carries the high-water mark
    # of the forked address space over the exec).
    prepared = subprocess.run(
        [
            sys.executable,
            __file__,
            "--prepare",
            str(workdir),
            "--sizes",
            str(size),
            "--churn",
            str(rate),
            "--seed",
            str(seed),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if prepared.returncode != 0:
        raise SystemExit(f"setup failed:\n{prepared.stderr[-3000:]}")
    setup = json.loads(prepared.stdout)
    setup_seconds = time.perf_counter() - started
    plan_argv = [
        sys.executable,
        "-m",
        "syncd",
        "plan",
        "--config",
        str(workdir / "current.toml"),
        "--format",
        "json",
        "--limit",
        "5",
        "--today",
        TODAY.isoformat(),
    ]
    dry_argv = [
        sys.executable,
        "-m",
        "syncd",
        "reconcile",
        "--config",
        str(workdir / "current.toml"),
        "--dry-run",
        "--today",
        TODAY.isoformat(),
    ]
    diff_argv = [
        *csv_diff_command(),
        str(workdir / "previous.csv"),
        str(workdir / "current.csv"),
        "--key",
        KEY,
    ]
    plans: list[Measured] = []
    dries: list[Measured] = []
    diffs: list[Measured] = []
    for _ in range(runs):  # in turn, so that a busy minute falls on all three alike
        plans.append(measure(plan_argv, workdir / "plan.json", workdir))
        dries.append(measure(dry_argv, workdir / "dry-run.txt", workdir))
        diffs.append(measure(diff_argv, workdir / "csv-diff.txt", workdir))
    summary = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    dry_ops, dry_calls = _dry_run_totals(workdir / "dry-run.txt")
    if (dry_ops, dry_calls) != (summary["ops"], summary["calls"]):
        raise SystemExit(
            f"reconcile --dry-run planned {dry_ops} ops / {dry_calls} calls, "
            f"plan {summary['ops']} / {summary['calls']}: the two commands disagree"
        )
    unchanged_argv = [*plan_argv]
    unchanged_argv[unchanged_argv.index(str(workdir / "current.toml"))] = str(
        workdir / "previous.toml"
    )
    unchanged = measure(unchanged_argv, workdir / "unchanged.json", workdir)
    no_change = json.loads((workdir / "unchanged.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {
        "people": size,
        "setup": {**setup, "seconds": round(setup_seconds, 1)},
        "plan": _figures(plans),
        "reconcile_dry_run": _figures(dries),
        "csv_diff": _figures(diffs),
        "plan_exit_code": plans[-1].code,
        "dry_run_exit_code": dries[-1].code,
        "plan_counts": summary["counts"],
        "plan_ops": summary["ops"],
        "plan_calls": summary["calls"],
        "skipped": len(summary["skipped"]),
        "rows": summary["source"],
        "no_change": {
            "seconds": round(unchanged.seconds, 3),
            "peak_rss_mib": round(unchanged.peak_mib, 1),
            "exit_code": unchanged.code,
            "ops": no_change["ops"],
            "calls": no_change["calls"],
        },
    }
    result["dry_run_speedup_vs_csv_diff"] = round(
        result["csv_diff"]["median_s"] / result["reconcile_dry_run"]["median_s"], 2
    )
    result["speedup_vs_csv_diff"] = round(
        result["csv_diff"]["median_s"] / result["plan"]["median_s"], 2
    )
    if stages:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                STAGES,
                str(workdir / "current.toml"),
                TODAY.isoformat(),
                CONNECTION,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=workdir,
        )
        result["stages_s"] = {k: round(v, 3) for k, v in json.loads(proc.stdout).items()}
    return result


def _dry_run_totals(output: Path) -> tuple[int, int]:
    """Ops and vendor calls from the plan heading `syncd reconcile --dry-run` prints."""
    text = output.read_text(encoding="utf-8")
    found = re.search(r"plan of (\d+) op\(s\), (\d+) vendor call\(s\)", text)
    if found is None:
        raise SystemExit(f"no plan heading in the dry run's output:\n{text[:2000]}")
    return int(found[1]), int(found[2])


def _figures(measured: list[Measured]) -> dict[str, Any]:
    seconds = [m.seconds for m in measured]
    return {
        "runs_s": [round(s, 3) for s in seconds],
        "median_s": round(statistics.median(seconds), 3),
        "best_s": round(min(seconds), 3),
        "peak_rss_mib": round(max(m.peak_mib for m in measured), 1),
    }


def compile_syncd() -> None:
    """Compile syncd's modules to bytecode first, as an installed package has them.

    ``pip install`` compiles them, and an editable install caches them on first import,
    unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some CI machines): then every timed
    run would compile syncd's source again (~0.07 s) and measure that instead.
    """
    import compileall

    import syncd

    compileall.compile_dir(Path(syncd.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--churn", type=float, default=0.01, help="share of people changed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temp)")
    parser.add_argument("--stages", action="store_true", help="also time stages in-process")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare is not None:
        print(json.dumps(prepare(args.prepare, args.sizes[0], args.churn, args.seed)))
        return
    base = args.workdir or Path(tempfile.mkdtemp(prefix="bench-plan-"))
    compile_syncd()
    try:
        load = os.getloadavg()
        report: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load],
            "today": TODAY.isoformat(),
            "results": [],
        }
        for size in args.sizes:
            outcome = bench_size(
                base / str(size), size, args.churn, args.seed, args.runs, args.stages
            )
            report["results"].append(outcome)
            print(json.dumps(outcome), file=sys.stderr, flush=True)
        report["load_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(report, indent=2))
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
