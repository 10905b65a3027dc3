"""Helpers of the end-to-end tests: running ``python -m syncd`` as a user does, the test
company and its export, what the LMS and the mirror hold, and the kill switch.

The kill switch (:class:`KillSwitch`) SIGKILLs a client process at an exact point of its
traffic to the sandbox. A crash test that kills after a random wall-clock delay mostly
kills between calls, or not at all once the machine is fast; the dangerous instants are
tied to one request. The switch wraps the simulator's ASGI app (without changing what the
simulator does) and, at the ``target``-th vendor request of the armed process, kills that
process at one of :data:`POINTS`:

``before``
    the request reached the server but is never passed to the simulator: the vendor never
    sees it (a worker that marked the op done before calling would lose it here);
``unanswered``
    the simulator applies the request in full, then the client dies before a byte of the
    answer is sent (a create's 201 lost: the rerun must adopt on 409, never create twice);
``answered``
    the whole answer is sent, then the client dies while reading it, committing it or
    starting its next call.

The kill is sent from the server's event loop and the switch waits until the process is
really gone before it lets anything else happen, so "the client never saw the answer" is
exact, not a race. Admin requests (``/_sandbox``) are never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typer.testing import CliRunner

from syncd.cli import app
from syncd.errors import SyncdError
from syncd.sandbox import create_simulator
from syncd.sandbox.admin import AdminClient
from syncd.sandbox.core import ADMIN_PREFIX, build_app
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.server import SandboxServer
from syncd.state.db import create_engine_for
from syncd.state.mirror import load_mirror

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


KEY_ENV = "SYNCD_E2E_LITMOS_KEY"
HEADER = [
    "Employee ID",
    "First Name",
    "Last Name",
    "Email",
    "Username",
    "Division",
    "Department",
    "Title",
    "Status",
]
DIVISIONS = {
    "Commercial": ["Sales", "Marketing", "Support"],
    "Operations": ["Logistics", "Finance"],
}
WRITES = ("POST", "PUT", "DELETE")


# --------------------------------------------------------------------------- the company


def company(size: int, *, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    firsts = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon"]
    lasts = ["Lee", "Ray", "Moe", "Kay", "Fox", "Orr", "Poe", "Quy", "Roe", "Sol"]
    departments = [(d, dept) for d, depts in DIVISIONS.items() for dept in depts]
    rows = []
    for n in range(size):
        first, last = rng.choice(firsts), rng.choice(lasts)
        division, department = departments[n % len(departments)]
        login = f"{first}.{last}.{1000 + n}".lower()
        rows.append(
            {
                "Employee ID": str(1000 + n),
                "First Name": first,
                "Last Name": last,
                "Email": f"{login}@corp.test",
                "Username": f"{login}@corp.test",
                "Division": division,
                "Department": department,
                "Title": rng.choice(["Associate", "Lead", "Manager"]),
                "Status": "Active",
            }
        )
    return rows


def write_export(path: Path, rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)


SOURCE_CONFIG = """\
[state]
url = "{db_url}"

[logging]
level = "info"
format = "json"

[sources.hris]
path = "export.csv"
key = "employee_id"
columns = {{ employee_id = "Employee ID", first_name = "First Name", last_name = "Last Name", \
email = "Email", username = "Username", division = "Division", department = "Department", \
job_title = "Title", status = "Status" }}

[[sources.hris.groups]]
name = "org"
columns = ["division", "department"]

"""
"""The state, logging and source part of the end-to-end configurations: the test company's
export, with its division > department grouping (a format string over ``db_url``)."""

CONFIG = (
    SOURCE_CONFIG
    + """\
[connections.lms]
vendor = "litmos"
base_url = "{base_url}"
credentials = {{ api_key = "${{{key_env}}}" }}
options = {{ source = "syncd-e2e" }}
rate = {{ requests = {requests}, per_seconds = {per_seconds} }}
groups = ["org"]
timeout_seconds = 1

[connections.lms.safeguards]
max_deactivations = 5
max_deactivation_percent = 20

[[connections.lms.rules]]
name = "everyone"
assign = {{ courses = ["{course}"] }}
"""
)


@dataclass
class Setup:
    """One test's world: the sandbox, its config file and export, the state database."""

    sandbox: RunningSandbox
    folder: Path
    config: Path
    export: Path
    db_url: str
    course: str

    def credentials_env(self) -> dict[str, str]:
        """The environment variables the config's ``${ENV}`` credentials name."""
        return {KEY_ENV: self.sandbox.credentials.get("apikey", "")}

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                **self.credentials_env(),
                "SYNCD_RETRY_BASE_SECONDS": "0.05",
                "SYNCD_RETRY_CAP_SECONDS": "0.5",
                "SYNCD_RETRY_MAX_ATTEMPTS": "30",
                "SYNCD_QUEUE_MAX_WAIT_SECONDS": "5",
                "SYNCD_QUEUE_CLAIM_LEASE_SECONDS": "30",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra)
        return env

    def syncd(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI in this process (fast); ``subprocess_run`` is the real thing."""
        argv = [*args, "--config", str(self.config)]
        saved_structlog = structlog.get_config()
        root = logging.getLogger()
        saved_handlers, saved_level = root.handlers[:], root.level
        try:
            outcome = CliRunner().invoke(app, argv, env=self.env(**env))
        finally:
            structlog.configure(**saved_structlog)
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
        code, stderr = outcome.exit_code, outcome.stderr
        if isinstance(outcome.exception, SyncdError):
            code, stderr = outcome.exception.exit_code, stderr + str(outcome.exception)
        elif outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
            raise outcome.exception
        return subprocess.CompletedProcess(argv, code, outcome.stdout, stderr)

    def subprocess_run(
        self, *args: str, timeout: float = 240, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncd", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(**env),
            cwd=self.folder,
            check=False,
        )

    def reconcile(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.syncd("reconcile", *args, **env)

    def spawn(self, *args: str, stdout: Any, stderr: Any, **env: str) -> subprocess.Popen[bytes]:
        """``syncd reconcile`` (or the command ``args`` name) started in the background,
        for tests that kill or watch it."""
        command = args or ("reconcile",)
        return subprocess.Popen(
            [sys.executable, "-m", "syncd", *command, "--config", str(self.config)],
            stdout=stdout,
            stderr=stderr,
            env=self.env(**env),
            cwd=self.folder,
        )

    def log_mark(self) -> int:
        assert self.sandbox.admin is not None
        entries = self.sandbox.admin.log()
        return max((e["seq"] for e in entries), default=0)

    def writes_since(self, mark: int) -> list[dict[str, object]]:
        assert self.sandbox.admin is not None
        return [e for e in self.sandbox.admin.log(since=mark) if e["method"] in WRITES]


def make_setup(
    sandbox: RunningSandbox,
    folder: Path,
    db_url: str,
    rows: Sequence[dict[str, str]],
    *,
    requests: int = 60,
    per_seconds: float = 1.0,
) -> Setup:
    assert sandbox.admin is not None
    seeded = sandbox.admin.seed({"courses": [{"code": "SAFE101", "name": "Safety basics"}]})
    course = seeded["courses"]["SAFE101"]
    sandbox.admin.set_rate(requests, per_seconds)
    config = folder / "syncd.toml"
    config.write_text(
        CONFIG.format(
            db_url=db_url,
            base_url=f"{sandbox.base_url}/v1.svc",
            key_env=KEY_ENV,
            requests=requests,
            per_seconds=per_seconds,
            course=course,
        ),
        encoding="utf-8",
    )
    export = folder / "export.csv"
    write_export(export, rows)
    return Setup(sandbox, folder, config, export, db_url, course)


# --------------------------------------------------------------------------- Enabley

ENABLEY_ID_ENV, ENABLEY_SECRET_ENV = "SYNCD_E2E_ENABLEY_ID", "SYNCD_E2E_ENABLEY_SECRET"
ENABLEY_UNPRICED = ("POST /api/v1/token", "GET /api/v1/groups/hierarchy")

ENABLEY_CONNECTION = """\
[connections.lms]
vendor = "enabley"
base_url = "{base_url}"
credentials = {{ client_id = "${{{id_env}}}", client_secret = "${{{secret_env}}}" }}
rate = {{ requests = {requests}, per_seconds = {per_seconds} }}
groups = ["org"]
timeout_seconds = 2
{options}
fields = {{ username = "{{username}}", firstName = "{{first_name}}", \
lastName = "{{last_name}}", email = "{{email}}", jobTitle = "{{job_title}}" }}

[connections.lms.safeguards]
max_deactivations = 5
max_deactivation_percent = 20

[[connections.lms.rules]]
name = "everyone"
assign = {{ courses = ["SAFE101"] }}
"""
"""The Enabley connection of the end-to-end worlds (after a source part), on a sandbox
seeded with the channel SAFE101 that a rule gives everyone."""


@dataclass
class EnableySetup(Setup):
    """The shared Setup with Enabley's client credentials in the environment."""

    def credentials_env(self) -> dict[str, str]:
        return {
            ENABLEY_ID_ENV: self.sandbox.credentials["clientKey"],
            ENABLEY_SECRET_ENV: self.sandbox.credentials["secret"],
        }


def make_enabley_setup(
    sandbox: RunningSandbox,
    folder: Path,
    db_url: str,
    rows: Sequence[dict[str, str]],
    *,
    requests: int = 60,
    per_seconds: float = 1.0,
    options: str = "",
    source: str = SOURCE_CONFIG,
    write: Callable[[Path, Sequence[dict[str, str]]], None] = write_export,
) -> EnableySetup:
    """A world on the Enabley sandbox: ``source`` (a format string over ``db_url``, the
    export's source part) plus :data:`ENABLEY_CONNECTION`, the export written by ``write``."""
    assert sandbox.admin is not None
    sandbox.admin.seed(
        {"channels": [{"identifier": "SAFE101", "name": "Safety", "type": "COURSE"}]}
    )
    sandbox.admin.set_rate(requests, per_seconds)
    config = folder / "syncd.toml"
    config.write_text(
        (source + ENABLEY_CONNECTION).format(
            db_url=db_url,
            base_url=sandbox.base_url,
            id_env=ENABLEY_ID_ENV,
            secret_env=ENABLEY_SECRET_ENV,
            requests=requests,
            per_seconds=per_seconds,
            options=options,
        ),
        encoding="utf-8",
    )
    export = folder / "export.csv"
    write(export, rows)
    return EnableySetup(sandbox, folder, config, export, db_url, "SAFE101")


# --------------------------------------------------------------------------- what holds


@dataclass(frozen=True)
class Snapshot:
    users: dict[str, tuple[str, bool, str, str]]  # remote id -> username, active, first, last
    teams: dict[str, tuple[str, str]]  # remote id -> name, parent remote id
    members: set[tuple[str, str]]  # (team remote id, user remote id)
    courses: set[tuple[str, str]]  # (user remote id, course id)


def lms(sandbox: RunningSandbox) -> Snapshot:
    """What the simulator holds (read from its own store, as its admin would)."""
    store = sandbox.simulator.store  # type: ignore[attr-defined]
    return Snapshot(
        users={
            u.id: (
                u.fields["UserName"],
                bool(u.fields["Active"]),
                u.fields["FirstName"],
                u.fields["LastName"],
            )
            for u in store.users.values()
        },
        teams={t.id: (t.name, t.parent_id or "") for t in store.live_teams()},
        members={(t, u) for (t, u), m in store.memberships.items() if m.active},
        courses={(u, c) for (u, c), a in store.assignments.items() if a.active},
    )


def mirror(db_url: str, connection: str = "lms") -> Snapshot:
    """What syncd's mirror says the LMS holds, in remote ids."""
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as db:
            m = load_mirror(db, connection, decode_attrs=True)
    finally:
        engine.dispose()
    user_ids = dict(zip(m.users["external_id"], m.users["remote_id"], strict=True))
    group_ids = dict(zip(m.groups["key"], m.groups["remote_id"], strict=True))
    return Snapshot(
        users={
            row.remote_id: (
                row.attrs["UserName"],
                bool(row.active),
                row.attrs["FirstName"],
                row.attrs["LastName"],
            )
            for row in m.users.itertuples()
        },
        teams={
            row.remote_id: (row.name, group_ids.get(row.parent_key, "") if row.parent_key else "")
            for row in m.groups.itertuples()
        },
        members={
            (group_ids[row.group_key], user_ids[row.external_id])
            for row in m.memberships.itertuples()
        },
        courses={
            (user_ids[row.external_id], row.item_id)
            for row in m.assignments.itertuples()
            if row.kind == "course"
        },
    )


def assert_in_sync(setup: Setup, rows: Sequence[dict[str, str]]) -> None:
    held, known = lms(setup.sandbox), mirror(setup.db_url)
    assert held == known, "the mirror must equal the LMS"
    usernames = Counter(name for name, *_ in held.users.values())
    assert set(usernames.values()) == {1}, "exactly one account per person"
    wanted = {r["Username"]: r["Status"] == "Active" for r in rows}
    by_name = {name: active for name, active, *_ in held.users.values()}
    assert {n: a for n, a in by_name.items() if n in wanted} == wanted


def result(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"


# --------------------------------------------------------------------------- scenarios


KILL_CYCLES = 12
"""Kills per test run: well over the ten the issue asks for, each at a different point."""


def planned_calls(setup: Setup) -> int:
    """The vendor calls the plan needs from here, as ``--dry-run`` prints them."""
    dry = setup.reconcile("--dry-run")
    assert dry.returncode in (0, 2), result(dry)
    found = re.search(r"plan of \d+ op\(s\), (\d+) vendor call\(s\)", dry.stdout)
    assert found, dry.stdout
    return int(found.group(1))


def writes_by_status(setup: Setup) -> Counter[int]:
    """Write requests the simulator answered, by status (its own counters)."""
    assert setup.sandbox.admin is not None
    counted: Counter[int] = Counter()
    for endpoint, statuses in setup.sandbox.admin.counters()["requests"].items():
        if endpoint.split(" ", 1)[0] in WRITES:
            counted.update({int(status): n for status, n in statuses.items()})
    return counted


def applied(statuses: Counter[int]) -> int:
    return sum(n for status, n in statuses.items() if 200 <= status < 300)


def effects(held: Snapshot) -> int:
    """Ops of a first sync whose effect the LMS shows: each is one write, all or nothing."""
    teams_with_members = {team for team, _ in held.members}
    return len(held.users) + len(held.teams) + len(teams_with_members) + len(held.courses)


POINTS = ("before", "unanswered", "answered")


@dataclass
class _Armed:
    pid: int
    target: int
    point: str
    seen: int = 0


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


class KillSwitch:
    """ASGI wrapper that kills the armed process at its ``target``-th vendor request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._armed: _Armed | None = None
        self.fired = threading.Event()
        """Set once the kill was sent (the test then expects exit -9, not a finished run)."""
        self.requests = 0
        """Vendor requests seen while armed (all processes), for the test's own checks."""

    def arm(self, pid: int, target: int, point: str) -> None:
        """Kill ``pid`` at its ``target``-th vendor request (1-based), at ``point``."""
        if point not in POINTS or target < 1:
            raise ValueError(f"bad kill point {point!r} / target {target}")
        with self._lock:
            self._armed = _Armed(pid, target, point)
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def _due(self) -> _Armed | None:
        """Count one vendor request; return the armed plan when this one is the target."""
        with self._lock:
            armed = self._armed
            if armed is None:
                return None
            self.requests += 1
            armed.seen += 1
            if armed.seen < armed.target:
                return None
            self._armed = None
            return armed

    async def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.fired.set()
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        armed = self._due()
        if armed is None:
            await self.app(scope, receive, send)
            return
        if armed.point == "before":
            await self._kill(armed.pid)
            await _until_disconnect(receive)
            return
        killed = False

        async def watch(message: Message) -> None:
            nonlocal killed
            if armed.point == "unanswered":
                if message["type"] == "http.response.start" and not killed:
                    killed = True
                    await self._kill(armed.pid)
                return
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                killed = True
                await self._kill(armed.pid)

        await self.app(scope, receive, watch)
        if not killed:  # an injected fault closed the connection without an answer
            await self._kill(armed.pid)
        if armed.point == "unanswered" or not killed:
            await _until_disconnect(receive)


def start_killable(vendor: str) -> tuple[RunningSandbox, KillSwitch]:
    """A fresh ``vendor`` simulator served behind a :class:`KillSwitch` (stop it after)."""
    simulator = create_simulator(vendor)
    app = build_app(simulator)
    switch = KillSwitch(app)
    server = SandboxServer(switch).start()
    return RunningSandbox(simulator, app, server, AdminClient(server.base_url)), switch


async def _until_disconnect(receive: Receive) -> None:
    """Wait until the server notices the dead client's socket closed (bounded)."""
    try:
        async with asyncio.timeout(10):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return


# --------------------------------------------------------------------------- a planned world

SECRET_ENV = "SYNCD_E2E_PLAN_KEY"
SECRET = "plan-e2e-secret-value-4711"
PLAN_HEADER = [
    "Employee ID",
    "First Name",
    "Last Name",
    "Email",
    "Division",
    "Department",
    "Status",
]
PLAN_TEAMS = [("Commercial", "Sales"), ("Commercial", "Support"), ("Operations", "Finance")]

PLAN_CONFIG = """\
[state]
url = "sqlite:///{db}"

[logging]
level = "warning"
format = "json"

[sources.hris]
path = "export.csv"
key = "employee_id"
columns = {{ employee_id = "Employee ID", first_name = "First Name", last_name = "Last Name", \
email = "Email", division = "Division", department = "Department", status = "Status" }}
derived = {{ username = "{{email}}" }}

[[sources.hris.groups]]
name = "org"
columns = ["division", "department"]

[connections.lms]
vendor = "litmos"
base_url = "sandbox:"
credentials = {{ api_key = "${{{secret_env}}}" }}
rate = {{ requests = 500, per_seconds = 1 }}
groups = ["org"]

[connections.lms.options]
source = "syncd-e2e-plan"

[connections.lms.safeguards]
max_deactivations = 3
max_deactivation_percent = 25

[[connections.lms.rules]]
name = "everyone"
assign = {{ courses = ["C-SAFETY"] }}

[[connections.lms.rules]]
name = "sales"
when = [{{ field = "department", equals = "Sales" }}]
assign = {{ courses = ["C-CRM"] }}
"""


def person(n: int, **changes: str) -> dict[str, str]:
    division, department = PLAN_TEAMS[n % len(PLAN_TEAMS)]
    row = {
        "Employee ID": str(1000 + n),
        "First Name": f"First{n}",
        "Last Name": f"Last{n}",
        "Email": f"person{n}@corp.test",
        "Division": division,
        "Department": department,
        "Status": "Active",
    }
    row.update(changes)
    return row


COMPANY = [person(n) for n in range(24)]


def next_month() -> list[dict[str, str]]:
    """The company a month on: one leaver, one edit, one move, one hire."""
    rows = [dict(r) for r in COMPANY]
    rows[1]["Status"] = "Terminated"  # a leaver (Support)
    rows[4]["Last Name"] = "Married"  # an edit
    assert rows[2]["Department"] == "Finance"
    rows[2].update(Division="Commercial", Department="Sales")  # a move
    rows.append(person(99))  # a hire (99 % 3 == 0: Sales)
    return rows


@dataclass
class World:
    """One test's folder: config, export and state database."""

    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "syncd.toml"

    @property
    def db(self) -> Path:
        return self.folder / "state.db"

    def export(self, rows: Sequence[dict[str, str]]) -> None:
        with (self.folder / "export.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=PLAN_HEADER)
            writer.writeheader()
            writer.writerows(rows)

    def syncd(
        self, *args: str, config: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        environment.update({"PYTHONPATH": str(ROOT), SECRET_ENV: SECRET, "COLUMNS": "200"})
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "syncd", *args, "--config", str(config or self.config)],
            capture_output=True,
            text=True,
            timeout=180,
            env=environment,
            cwd=self.folder,
            check=False,
        )

    def plan(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        proc = self.syncd("plan", *args, config=config)
        assert SECRET not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def plan_json(self, *args: str) -> tuple[int, dict[str, object]]:
        proc = self.plan("--format", "json", *args)
        assert proc.returncode in (0, 2, 3), shown(proc)
        return proc.returncode, json.loads(proc.stdout)

    def dump(self) -> list[str]:
        """Every row of every table, as SQL text (what "nothing changed" is checked on)."""
        with sqlite3.connect(self.db) as db:
            return list(db.iterdump())


def world_at(folder: Path, rows: Sequence[dict[str, str]] = COMPANY) -> World:
    world = World(folder)
    world.config.write_text(
        PLAN_CONFIG.format(db=world.db, secret_env=SECRET_ENV), encoding="utf-8"
    )
    world.export(rows)
    return world


# --------------------------------------------------------------------------- SCORM Cloud

SCORM_APP_ENV = "SYNCD_E2E_SCORM_APP"
SCORM_SECRET_ENV = "SYNCD_E2E_SCORM_SECRET"

SCORM_CONFIG = (
    SOURCE_CONFIG
    + """\
[connections.lms]
vendor = "scormcloud"
base_url = "{base_url}"
credentials = {{ app_id = "${{{app_env}}}", secret_key = "${{{secret_env}}}" }}
options = {{ leavers = "{leavers}" }}
rate = {{ requests = {requests}, per_seconds = {per_seconds} }}
timeout_seconds = 1

[connections.lms.safeguards]
max_deactivations = 5
max_deactivation_percent = 20

[[connections.lms.rules]]
name = "everyone"
assign = {{ courses = ["SAFE101"] }}

[[connections.lms.rules]]
name = "sales"
when = [{{ field = "department", equals = "Sales" }}]
assign = {{ courses = ["SALES1"] }}
"""
)


@dataclass
class ScormSetup(Setup):
    """A world on the SCORM Cloud sandbox: its credentials come from two ``${ENV}``."""

    def credentials_env(self) -> dict[str, str]:
        return {
            SCORM_APP_ENV: self.sandbox.credentials["app_id"],
            SCORM_SECRET_ENV: self.sandbox.credentials["secret_key"],
        }


def make_scorm_setup(
    sandbox: RunningSandbox,
    folder: Path,
    db_url: str,
    rows: Sequence[dict[str, str]],
    *,
    leavers: str = "keep",
    requests: int = 60,
    per_seconds: float = 1.0,
) -> ScormSetup:
    assert sandbox.admin is not None
    sandbox.admin.seed({"courses": [{"id": "SAFE101"}, {"id": "SALES1"}]})
    sandbox.admin.set_rate(requests, per_seconds)
    config = folder / "syncd.toml"
    config.write_text(
        SCORM_CONFIG.format(
            db_url=db_url,
            base_url=f"{sandbox.base_url}/api/v2",
            app_env=SCORM_APP_ENV,
            secret_env=SCORM_SECRET_ENV,
            leavers=leavers,
            requests=requests,
            per_seconds=per_seconds,
        ),
        encoding="utf-8",
    )
    export = folder / "export.csv"
    write_export(export, rows)
    return ScormSetup(sandbox, folder, config, export, db_url, "SAFE101")


def scorm_registrations(sandbox: RunningSandbox) -> dict[str, tuple[str, str]]:
    """Registration id -> (learner id, course id), read through the vendor's API."""
    import httpx

    found: dict[str, tuple[str, str]] = {}
    auth = (sandbox.credentials["app_id"], sandbox.credentials["secret_key"])
    params: dict[str, str] = {}
    with httpx.Client(base_url=f"{sandbox.base_url}/api/v2", auth=auth, timeout=5) as http:
        while True:
            page = http.get("/registrations", params=params).json()
            for item in page["registrations"]:
                found[item["id"]] = (item["learner"]["id"], item["course"]["id"])
            if not page.get("more"):
                return found
            params = {"more": page["more"]}


def kill_cycles(
    setup: Setup,
    switch: KillSwitch,
    rng: random.Random,
    cycles: int,
    work_left: Callable[[], int],
    about: str,
) -> Counter[str]:
    """Start ``syncd reconcile`` ``cycles`` times and SIGKILL it at a drawn vendor request,
    at each point of :data:`POINTS` in turn (shuffled); kills per point.

    The request is drawn from the work the LMS still lacks (``work_left()``), leaving at
    least one for every later cycle, so a run that ends before it has lost work: that
    fails the test with the run's stderr."""
    points = [POINTS[i % len(POINTS)] for i in range(cycles)]
    rng.shuffle(points)
    kills: Counter[str] = Counter()
    for cycle, point in enumerate(points):
        left = cycles - cycle
        remaining = work_left()
        target = rng.randint(1, max(1, min(remaining - left, 2 * remaining // (left + 1))))
        proc = setup.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        switch.arm(proc.pid, target, point)
        try:
            _, stderr = proc.communicate(timeout=120)
        finally:
            switch.disarm()
            if proc.poll() is None:  # the test failed waiting: leave no process behind
                proc.kill()
                proc.wait()
        if switch.fired.is_set():
            assert proc.returncode == -signal.SIGKILL, f"cycle {cycle} {about}"
            kills[point] += 1
            continue
        tail = stderr.decode(errors="replace")[-2000:]
        raise AssertionError(
            f"cycle {cycle}: the run ended (exit {proc.returncode}) before its vendor request "
            f"#{target} although {remaining} units of work were missing in the LMS: work was "
            f"lost or refused {about}\n{tail}"
        )
    return kills


# --------------------------------------------------------------------------- the service


def service_toml(**settings: str | int) -> str:
    """A ``[service]`` table (strings quoted, numbers as they are) for ``syncd run``."""
    lines = [
        f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}"
        for key, value in settings.items()
    ]
    return "\n[service]\n" + "\n".join(lines) + "\n"


def schedule_toml(connection: str, **when: str) -> str:
    """A connection's ``schedule`` table (``roster``, ``results``)."""
    lines = [f'{kind} = "{value}"' for kind, value in when.items()]
    return f"\n[connections.{connection}.schedule]\n" + "\n".join(lines) + "\n"


class ServiceProcess:
    """``syncd run`` in the background, its JSON log lines collected as they come."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "run", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.raw.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Log events so far (``name``: only those)."""
        with self._lock:
            lines = list(self.raw)
        found = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                found.append(event)
        return found

    def text(self) -> str:
        with self._lock:
            return "".join(self.raw)

    def wait_for(self, check: Callable[[], Any], *, timeout: float, what: str) -> Any:
        """Poll ``check`` until it returns something true; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        value = check()
        if value:
            return value
        raise AssertionError(
            f"timed out waiting for {what}; exit {self.proc.poll()}\n{self.text()[-6000:]}"
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float) -> int:
        """Wait for the process to end (killed if it does not); its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"syncd run did not stop within {timeout} s\n{self.text()[-6000:]}"
            ) from None
        self._reader.join(timeout=5)
        self._close_pipe()
        return code

    def _close_pipe(self) -> None:
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()

    def close(self) -> None:
        """Kill it if it still runs (a test's cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        self._close_pipe()


def finished_runs(service: ServiceProcess, job: str, outcome: str = "ok") -> int:
    """How many runs of ``job`` the service finished with ``outcome``."""
    return sum(
        1
        for e in service.events("service.run_finished")
        if e.get("job") == job and e.get("outcome") == outcome
    )


def in_sync(setup: Setup, rows: Sequence[dict[str, str]]) -> bool:
    """:func:`assert_in_sync` as a condition to wait for."""
    try:
        assert_in_sync(setup, rows)
    except (AssertionError, KeyError, SyncdError, SQLAlchemyError):
        return False  # not yet (the service may not even have made its tables)
    return True
