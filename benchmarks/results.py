"""How `syncd results pull` and `syncd results export` fare on a Litmos account with a
million course results.

Setup (not timed, in its own process): a simulated Litmos account (the sandbox's own
store, filled directly) with ``--records`` course results over the last 90 days: one user
per ten results, each user assigned ten of twenty courses, 30 % not started, 25 % in
progress and 45 % completed (with a compliance date a year on); each result's last change
is at a uniform time in the 90 days (steady activity), its earlier dates before it, every
date a millisecond on the vendor's clock. It is
written as the ``sandbox:`` connection's account file, with a configuration that lifts
the simulator's rate limit (``rate = { requests = 1000000, per_seconds = 1 }``) and a
SQLite state database whose mirror holds every user (so each result resolves to its HRIS
employee id, as after a first sync).

Timed, each as a whole child process as a user runs it (wall time; peak RSS is the
child's own ``ru_maxrss`` from ``wait4``):

- **restore only**: a child that starts the simulator and restores the account file, as
  the pull does, and exits: the simulator's share of every pull (it runs in the pull's
  process) in time and memory;
- **backfill**: ``syncd results pull`` on an empty results table (the Litmos connector's
  ``results_backfill``: one ``/results/details`` walk from ``[results] start``);
- **daily incremental**: after one more day of activity (setup again, not timed: 1/90
  of the results move on a step, not started -> in progress -> completed -> completed
  again, and 1/900 more are new assignments), ``syncd results pull`` again: one 7-day
  window from the watermark minus the 1 h overlap, ``/org/users/courses`` and
  ``/org/results/details`` paged to the end;
- **export**: ``syncd results export --all --format F`` of the whole table, for each of
  ``--formats``.

For each pull: records read and changed and vendor reads (the pull's ``results.pulled``
log line) against the fewest reads Litmos's paging allows (pages of 1000 rows, so
``floor(n/1000) + 1`` per endpoint and window, n counted in the seeded data with the
simulator's own filter over the window the pull read), and records per second over the
pull itself (from the ``sandbox.started`` to the ``results.pulled`` log line: imports and
the account restore left out) and over the whole command. Memory: the peak RSS includes
the simulator, whose account lives in the same process and grows with the records, and
the transient of restoring it; so the child's RSS is also sampled every 50 ms, and
``rss_growth_mib`` is how far it rose after ``sandbox.started`` (the account restored):
the pull's own memory, which must not grow with the records.

    python benchmarks/results.py --records 100000
    python benchmarks/results.py --records 100000 1000000 --keep /tmp/bench-results
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

CONNECTION = "litmos"
COURSES = 20
PER_USER = 10
DAYS = 90
PAGE = 1000
"""Litmos's largest page (``limit``), which the connector asks for."""

CONFIG = """\
[state]
url = "sqlite:///{db}"
auto_upgrade = false

[logging]
level = "info"
format = "json"

[sources.hris]
path = "export.csv"
key = "employee_id"
columns = {{ employee_id = "Employee ID", email = "Email" }}

[connections.{connection}]
vendor = "litmos"
base_url = "sandbox:"
# The simulator's demo key replaces this one (a `sandbox:` connection).
credentials = {{ api_key = "unused-demo-key-replaces-it" }}
match_key = "email"
rate = {{ requests = 1000000, per_seconds = 1 }}

[results]
start = "{start}"
outbound = "outbound"
"""


# --------------------------------------------------------------------------- setup


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def build_account(records: int, seed: int, now: datetime) -> tuple[Any, Any]:
    """A Litmos simulator holding ``records`` course results dated in the 90 days before
    ``now``, and the (created, updated) times of every assignment in milliseconds."""
    import numpy as np

    from syncd.sandbox.litmos import LitmosSimulator
    from syncd.sandbox.litmos.store import Assignment

    simulator = LitmosSimulator(seed=seed)
    store = simulator.store
    store.clock = lambda: now - timedelta(days=DAYS + 30)
    simulator.seed(
        {
            "courses": [
                {
                    "code": f"C{n:02d}",
                    "name": f"Course {n:02d}",
                    "modules": [{"code": f"C{n:02d}-M{m}", "name": f"Module {m}"} for m in (1, 2)],
                }
                for n in range(COURSES)
            ]
        }
    )
    courses = list(store.courses.values())
    users = []
    for n in range((records + PER_USER - 1) // PER_USER):
        email = f"person{n:07d}@acme.example"
        fields = {
            "UserName": email,
            "FirstName": f"First{n}",
            "LastName": f"Last{n}",
            "Email": email,
            "Active": True,
            "AccessLevel": "Learner",
            "IsCustomUsername": False,
        }
        users.append(store.add_user(fields))
    rng = np.random.default_rng(seed)
    end = _ms(now) - 1
    begin = end - DAYS * 86_400_000
    # The last change of each result is uniform over the 90 days (steady activity); the
    # earlier dates of the same result fall at random between the start and it.
    updated = rng.integers(begin, end, records)
    state = rng.random(records)
    started = updated - (rng.random(records) * (updated - begin)).astype("int64")
    started = np.where(state < 0.55, updated, started)
    created = started - (rng.random(records) * (started - begin)).astype("int64")
    created = np.where(state < 0.30, updated, created)
    finished = updated
    progress = rng.integers(1, 10, records) * 10
    picks = [rng.permutation(COURSES)[:PER_USER] for _ in range(len(users))]
    for n in range(records):
        user = users[n // PER_USER]
        course = courses[picks[n // PER_USER][n % PER_USER]]
        made = _at(int(created[n]))
        assignment = Assignment(
            user_id=user.id,
            course_id=course.id,
            result_id=store.new_result_id(),
            assigned=made,
            created=made,
            updated=_at(int(updated[n])),
        )
        if state[n] >= 0.30:
            assignment.started = _at(int(started[n]))
            assignment.percentage = Decimal(int(progress[n])).quantize(Decimal("0.01"))
        if state[n] >= 0.55:
            done = _at(int(finished[n]))
            assignment.complete = True
            assignment.percentage = Decimal("100.00")
            assignment.completed_date = done
            assignment.compliant_till = done + timedelta(days=365)
        store.assignments[(user.id, course.id)] = assignment
    return simulator, np.stack([created, updated], axis=1)


def _times(store: Any) -> Any:
    import numpy as np

    return np.array(
        [(_ms(a.created), _ms(a.updated)) for a in store.assignments.values()], dtype="int64"
    )


def _write_mirror(db: Path, store: Any, now: datetime) -> int:
    """Every simulated user in the mirror, as a completed first sync leaves it."""
    from sqlalchemy import insert

    from syncd.state.db import create_engine_for, upgrade
    from syncd.state.models import MirrorUser

    url = f"sqlite:///{db}"
    upgrade(url)
    rows = [
        {
            "connection": CONNECTION,
            "external_id": f"E{user.original_id}",
            "remote_id": user.id,
            "match_value": user.fields["Email"],
            "active": True,
            "attrs": {"Email": user.fields["Email"]},
            "attrs_hash": "",
            "updated_at": now,
        }
        for user in store.users.values()
    ]
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            for start in range(0, len(rows), 50_000):
                connection.execute(insert(MirrorUser), rows[start : start + 50_000])
    finally:
        engine.dispose()
    return len(rows)


def setup(workdir: Path, records: int, seed: int) -> dict[str, Any]:
    """The account file, its assignment times, the config and the state database."""
    import numpy as np

    from syncd.sandbox.account_file import write_account

    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    simulator, times = build_account(records, seed, now)
    write_account(workdir / "base.state", "litmos", simulator.snapshot())
    np.save(workdir / "times-base.npy", times)
    db = workdir / "empty.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    people = _write_mirror(db, simulator.store, now)
    start = (now - timedelta(days=DAYS + 1)).date().isoformat()
    config = CONFIG.format(db=workdir / "state.db", connection=CONNECTION, start=start)
    (workdir / "syncd.toml").write_text(config, encoding="utf-8")
    (workdir / "export.csv").write_text("Employee ID,Email\n", encoding="utf-8")
    return {
        "records": records,
        "users": people,
        "courses": COURSES,
        "account_mib": round((workdir / "base.state").stat().st_size / 2**20, 1),
    }


def next_day(workdir: Path, seed: int, since: datetime) -> dict[str, Any]:
    """One more day of activity in the account, dated from ``since`` (the backfill's
    watermark) to now, so that the incremental pull's window holds it."""
    import numpy as np

    from syncd.sandbox.account_file import restore_account, write_account
    from syncd.sandbox.litmos import LitmosSimulator
    from syncd.sandbox.litmos.store import Assignment

    simulator = LitmosSimulator(seed=seed)
    restore_account(simulator, workdir / "base.state", "litmos")
    store = simulator.store
    while datetime.now(UTC) < since + timedelta(seconds=2):
        time.sleep(0.2)
    until = datetime.now(UTC) - timedelta(seconds=1)
    rng = np.random.default_rng(seed + 1)
    assignments = list(store.assignments.values())
    moved = len(assignments) // DAYS
    new = max(len(assignments) // (DAYS * 10), 1)
    span = _ms(until) - _ms(since)
    stamps = iter(sorted(int(x) for x in _ms(since) + rng.integers(0, span, moved + new)))
    counts = {"started": 0, "completed": 0, "completed_again": 0, "assigned": 0}
    for index in rng.choice(len(assignments), moved, replace=False):
        assignment = assignments[int(index)]
        at = _at(next(stamps))
        if assignment.started is None:
            assignment.started = at
            assignment.percentage = Decimal("50.00")
            counts["started"] += 1
        else:
            counts["completed" if not assignment.complete else "completed_again"] += 1
            assignment.complete = True
            assignment.percentage = Decimal("100.00")
            assignment.completed_date = at
            assignment.compliant_till = at + timedelta(days=365)
        assignment.updated = at
    users = list(store.users.values())
    courses = list(store.courses.values())
    while counts["assigned"] < new:
        user = users[int(rng.integers(len(users)))]
        course = courses[int(rng.integers(len(courses)))]
        if (user.id, course.id) in store.assignments:
            continue
        at = _at(next(stamps))
        store.assignments[(user.id, course.id)] = Assignment(
            user_id=user.id,
            course_id=course.id,
            result_id=store.new_result_id(),
            assigned=at,
            created=at,
            updated=at,
        )
        counts["assigned"] += 1
    write_account(workdir / "next.state", "litmos", simulator.snapshot())
    np.save(workdir / "times-next.npy", _times(store))
    return {**counts, "from": since.isoformat(), "to": until.isoformat()}


def restore_only(workdir: Path) -> dict[str, Any]:
    """Start the simulator with the account file as the pull does; its settled RSS."""
    import gc

    from syncd import config as config_mod
    from syncd.pipeline.connection import sandboxed

    config = config_mod.load(workdir / "syncd.toml")
    conn = config.connections[CONNECTION]
    with sandboxed(config, CONNECTION, conn, keep=False) as (_, restored):
        gc.collect()
        settled = _rss_mib()
    return {"restored": restored, "settled_rss_mib": settled}


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measured:
    """One child process: wall seconds, peak RSS in MiB, exit code, what it printed, and
    its RSS sampled every 50 ms as (UTC time, MiB)."""

    seconds: float
    peak_mib: float
    code: int
    stdout: str
    stderr: str
    rss: list[tuple[datetime, float]]


def _sample(pid: int, into: list[tuple[datetime, float]], done: threading.Event) -> None:
    """The child's resident size over time: the peak alone cannot say whether the pull
    grew beyond what restoring the simulator's account had already taken."""
    status = Path(f"/proc/{pid}/status")
    while not done.wait(0.05):
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                into.append((datetime.now(UTC), int(line.split()[1]) / 1024))


def measure(argv: list[str], cwd: Path) -> Measured:
    """Run ``argv`` as a child and take its own rusage (``wait4``), not the children's max."""
    rss: list[tuple[datetime, float]] = []
    done = threading.Event()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        sampler = threading.Thread(target=_sample, args=(child.pid, rss, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:6])} exited {code}:\n{stdout[-2000:]}{stderr[-3000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, code, stdout, stderr, rss)


def _last_json(stdout: str) -> dict[str, Any]:
    """A helper child's answer: its last line (a log line may come before it)."""
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def _child(*args: str) -> list[str]:
    return [sys.executable, __file__, *args]


def _syncd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syncd", *args, "--config", str(workdir / "syncd.toml")]


def _events(stderr: str) -> dict[str, dict[str, Any]]:
    """The JSON log lines of a run, by event name (the last of each)."""
    found: dict[str, dict[str, Any]] = {}
    for line in stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            found[event.get("event", "")] = event
    return found


def _pull_figures(run: Measured) -> dict[str, Any]:
    events = _events(run.stderr)
    pulled = events.get("results.pulled")
    started = events.get("sandbox.started")
    if pulled is None or started is None:
        raise SystemExit(f"no results.pulled / sandbox.started log line:\n{run.stderr[-3000:]}")
    pulling = (
        datetime.fromisoformat(pulled["timestamp"]) - datetime.fromisoformat(started["timestamp"])
    ).total_seconds()
    records = int(pulled["records"])
    ready = datetime.fromisoformat(started["timestamp"])
    after = [mib for at, mib in run.rss if at >= ready]
    return {
        "seconds": round(run.seconds, 2),
        "pull_seconds": round(pulling, 2),
        "peak_rss_mib": round(run.peak_mib, 1),
        "rss_at_start_mib": round(after[0], 1) if after else None,
        "rss_growth_mib": round(max(after) - after[0], 1) if after else None,
        "records": records,
        "changed": int(pulled["changed"]),
        "reads": int(pulled["reads"]),
        "windows": int(pulled["windows"]),
        "records_per_s": round(records / pulling) if pulling > 0 else None,
        "records_per_s_command": round(records / run.seconds),
    }


def _watermark(workdir: Path) -> datetime:
    from syncd.state import results as store
    from syncd.state.db import create_engine_for, session_factory

    engine = create_engine_for(f"sqlite:///{workdir / 'state.db'}")
    try:
        with session_factory(engine)() as db:
            mark = store.watermark(db, CONNECTION)
    finally:
        engine.dispose()
    if mark is None:
        raise SystemExit("the pull left no watermark")
    return mark


def _pages(rows: int) -> int:
    """Reads one paged walk of ``rows`` takes: full pages, then a short (maybe empty) one."""
    return rows // PAGE + 1


def backfill_minimum(times: Any, since: datetime, to: datetime) -> tuple[int, int]:
    """Rows of ``/results/details?since=&to=`` (updated in ``[since, to)``) and its reads."""
    updated = times[:, 1]
    rows = int(((updated >= _ms(since)) & (updated < _ms(to))).sum())
    return rows, _pages(rows)


def window_minimum(times: Any, since: datetime, to: datetime) -> tuple[int, int]:
    """Rows of one ``/org/`` window (created or updated in ``[since, to)``) and the reads
    of its two endpoints (``/org/users/courses``, ``/org/results/details``)."""
    low, high = _ms(since), _ms(to)
    created, updated = times[:, 0], times[:, 1]
    inside = ((created >= low) & (created < high)) | ((updated >= low) & (updated < high))
    rows = int(inside.sum())
    return rows, 2 * _pages(rows)


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


def _median(runs: list[dict[str, Any]], key: str) -> Any:
    return round(statistics.median(run[key] for run in runs), 2)


def bench(workdir: Path, records: int, seed: int, runs: int, formats: list[str]) -> dict[str, Any]:
    """Setup, then the timed children (see the module docstring)."""
    import numpy as np

    began = time.perf_counter()
    made = measure(
        _child("--setup", str(workdir), "--records", str(records), "--seed", str(seed)),
        workdir.parent,
    )
    report: dict[str, Any] = {"records": records, "setup": _last_json(made.stdout)}
    report["setup"]["seconds"] = round(time.perf_counter() - began, 1)
    account = workdir / f"syncd-sandbox-{CONNECTION}.state"
    state = workdir / "state.db"
    overlap = timedelta(hours=1)

    shutil.copyfile(workdir / "base.state", account)
    restored = [measure(_child("--restore-only", str(workdir)), workdir) for _ in range(runs)]
    settled = _last_json(restored[-1].stdout)
    report["restore_only"] = {
        "seconds": round(statistics.median(r.seconds for r in restored), 2),
        "peak_rss_mib": round(max(r.peak_mib for r in restored), 1),
        "settled_rss_mib": settled["settled_rss_mib"],
    }

    base = np.load(workdir / "times-base.npy")
    backfills = []
    for _ in range(runs):
        _copy_db(workdir / "empty.db", state)
        run = measure(_syncd(workdir, "results", "pull"), workdir)
        figures = _pull_figures(run)
        mark = _watermark(workdir)
        start = datetime.fromisoformat(_setup_start(workdir)).replace(tzinfo=UTC)
        rows, least = backfill_minimum(base, start, mark)
        backfills.append({**figures, "rows_in_window": rows, "minimum_reads": least})
    report["backfill"] = _summary(backfills)
    _copy_db(state, workdir / "after-backfill.db")
    first_mark = _watermark(workdir)

    moved = measure(
        _child("--next-day", str(workdir), "--seed", str(seed), "--since", first_mark.isoformat()),
        workdir,
    )
    report["next_day"] = _last_json(moved.stdout)
    shutil.copyfile(workdir / "next.state", account)
    following = np.load(workdir / "times-next.npy")
    incrementals = []
    for _ in range(runs):
        _copy_db(workdir / "after-backfill.db", state)
        run = measure(_syncd(workdir, "results", "pull"), workdir)
        figures = _pull_figures(run)
        rows, least = window_minimum(following, first_mark - overlap, _watermark(workdir))
        incrementals.append({**figures, "rows_in_window": rows, "minimum_reads": least})
    report["incremental"] = _summary(incrementals)

    exports: dict[str, Any] = {}
    for fmt in formats:
        done = []
        for _ in range(runs):
            run = measure(_syncd(workdir, "results", "export", "--all", "--format", fmt), workdir)
            path = Path(run.stdout.split(": ")[0].strip())
            done.append(
                {
                    "seconds": round(run.seconds, 2),
                    "peak_rss_mib": round(run.peak_mib, 1),
                    "rows": int(run.stdout.split(": ")[1].split()[0].replace(",", "")),
                    "mib": round(path.stat().st_size / 2**20, 1),
                }
            )
            path.unlink()
        exports[fmt] = _summary(done)
    report["export"] = exports
    return report


def _setup_start(workdir: Path) -> str:
    for line in (workdir / "syncd.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("start = "):
            return line.split('"')[1]
    raise SystemExit("no [results] start in the config")


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The last run's counts, median times and the largest peak."""
    summary = dict(runs[-1])
    if len(runs) > 1:
        for key in ("seconds", "pull_seconds", "records_per_s", "records_per_s_command"):
            if key in summary and summary[key] is not None:
                summary[key] = _median(runs, key)
        summary["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
        summary["runs_s"] = [run["seconds"] for run in runs]
    return summary


def compile_syncd() -> None:
    """Compile syncd's bytecode first, as an installed package has it (see plan.py)."""
    import compileall

    import syncd

    compileall.compile_dir(Path(syncd.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each command")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--formats", nargs="+", default=["csv", "json", "xlsx"], choices=["csv", "json", "xlsx"]
    )
    parser.add_argument("--keep", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--next-day", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--since", help=argparse.SUPPRESS)
    parser.add_argument("--restore-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup is not None:
        print(json.dumps(setup(args.setup, args.records[0], args.seed)))
        return
    if args.next_day is not None:
        since = datetime.fromisoformat(args.since)
        print(json.dumps(next_day(args.next_day, args.seed, since)))
        return
    if args.restore_only is not None:
        print(json.dumps(restore_only(args.restore_only)))
        return
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-results-"))
    compile_syncd()
    try:
        report: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "results": [],
        }
        for records in args.records:
            workdir = base / str(records)
            workdir.mkdir(parents=True, exist_ok=True)
            outcome = bench(workdir, records, args.seed, args.runs, args.formats)
            report["results"].append(outcome)
            print(json.dumps(outcome), file=sys.stderr, flush=True)
        report["load_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(report, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
