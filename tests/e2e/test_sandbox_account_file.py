"""A `sandbox:` connection's account file, as a user meets it through the CLI.

The simulated LMS runs inside the syncd process and keeps its account in
``syncd-sandbox-<connection>.state`` in the working folder. These tests hold it to what a
real LMS gives: it is never behind the mirror after a kill -9, a dry run never writes it,
a lost file is never reported as "in sync", and a crafted file is refused, never run.

The kill tests start syncd through a small launcher that puts the simulator it starts
behind :class:`~tests.e2e.kit.KillSwitch`, armed on syncd's own process: the kill
lands at an exact point of one request (before the simulator sees it, after it applied it
but before the answer, after the answer), as in ``test_reconcile``'s kill tests.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from syncd.sandbox import create_simulator
from syncd.sandbox.account_file import account_path, restore_account
from tests.e2e.kit import (
    CONFIG,
    KEY_ENV,
    POINTS,
    ROOT,
    Snapshot,
    company,
    lms,
    mirror,
    shown,
    syncd,
    write_export,
)

SEED = {"courses": [{"code": "SAFE101", "name": "Safety basics"}]}
COURSE = create_simulator("litmos").seed(SEED)["courses"]["SAFE101"]
SANDBOX_ENV = {KEY_ENV: "unused: the sandbox takes its own demo key"}

LAUNCHER = """\
import os, sys
from syncd.sandbox import create_simulator, running
from syncd.sandbox.admin import AdminClient
from syncd.sandbox.core import build_app
from syncd.sandbox.server import SandboxServer
from tests.e2e.kit import KillSwitch

def killed_at_a_request(vendor, **options):
    simulator = create_simulator(vendor)
    app = build_app(simulator)
    switch = KillSwitch(app)
    switch.arm(os.getpid(), int(os.environ["KILL_AT"]), os.environ["KILL_POINT"])
    server = SandboxServer(switch).start()
    return running.RunningSandbox(simulator, app, server, AdminClient(server.base_url))

running.start_sandbox = killed_at_a_request
from syncd.cli import main
sys.argv[0] = "syncd"
main()
"""


@dataclass
class Folder:
    """A working folder with the config, seed, export and (once run) the state database."""

    path: Path

    @property
    def account(self) -> Path:
        return account_path("lms", self.path)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.path / 'syncd.db'}"

    def export(self, rows: Sequence[dict[str, str]]) -> None:
        write_export(self.path / "export.csv", rows)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return syncd(*args, "--config", "syncd.toml", cwd=self.path, env=SANDBOX_ENV)

    def run_killed(self, point: str, target: int) -> subprocess.CompletedProcess[str]:
        """``syncd reconcile``, SIGKILLed at its ``target``-th request to the simulator."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        environ.update({"PYTHONPATH": str(ROOT), "KILL_AT": str(target), "KILL_POINT": point})
        environ.update(SANDBOX_ENV)
        return subprocess.run(
            [sys.executable, "-c", LAUNCHER, "reconcile", "--config", "syncd.toml"],
            capture_output=True,
            text=True,
            timeout=240,
            env=environ,
            cwd=self.path,
            check=False,
        )

    def lms(self) -> Snapshot:
        """What the simulated LMS holds: its account file, loaded as the next run will."""
        simulator = create_simulator("litmos")
        assert restore_account(simulator, self.account, "litmos")  # type: ignore[arg-type]
        return lms(SimpleNamespace(simulator=simulator))  # type: ignore[arg-type]

    def mirror(self) -> Snapshot:
        return mirror(self.db_url)


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    config = CONFIG.format(
        db_url=f"sqlite:///{tmp_path / 'syncd.db'}",
        base_url="sandbox:seed.json",
        key_env=KEY_ENV,
        requests=1000,
        per_seconds=1,
        course=COURSE,
    )
    (tmp_path / "syncd.toml").write_text(config, encoding="utf-8")
    (tmp_path / "seed.json").write_text(json.dumps(SEED), encoding="utf-8")
    return Folder(tmp_path)


def synced(folder: Folder, rows: Sequence[dict[str, str]]) -> None:
    folder.export(rows)
    first = folder.run("reconcile")
    assert first.returncode == 0, shown(first)
    assert folder.account.exists()


def said(proc: subprocess.CompletedProcess[str]) -> str:
    """Everything a command printed, with line breaks a narrow console added undone."""
    return " ".join((proc.stdout + proc.stderr).split())


def assert_not_behind(held: Snapshot, known: Snapshot) -> None:
    """Everything the mirror says the LMS holds, the LMS holds."""
    assert known.users.items() <= held.users.items(), "the mirror is ahead of the LMS"
    assert known.teams.items() <= held.teams.items()
    assert known.members <= held.members and known.courses <= held.courses


# --------------------------------------------------------------------------- kill -9


@pytest.mark.slow
def test_after_kill_9_the_simulated_lms_is_never_behind_the_mirror(folder: Folder) -> None:
    """The issue's case: a second run adding people is killed; the rerun must finish it.

    Killed three times, once at each point of a request, each time inside the drain of
    the new hires; after each kill the account file holds everything the mirror does, and
    the rerun ends with the two equal and every person there exactly once.
    """
    synced(folder, company(50))
    everyone = company(60)
    folder.export(everyone)
    for point, target in zip(POINTS, (3, 5, 4), strict=True):
        killed = folder.run_killed(point, target)
        assert killed.returncode == -9, f"{point}@{target}: not killed\n{shown(killed)}"
        assert_not_behind(folder.lms(), folder.mirror())
    rerun = folder.run("reconcile")
    assert rerun.returncode == 0, shown(rerun)
    held, known = folder.lms(), folder.mirror()
    assert held == known, "the mirror must equal the LMS"
    usernames = sorted(name for name, *_ in held.users.values())
    assert usernames == sorted(row["Username"] for row in everyone), "each person once"
    again = folder.run("plan")
    assert again.returncode == 0 and "in sync" in again.stdout, shown(again)


# --------------------------------------------------------------------------- dry run


def test_a_dry_run_never_writes_the_account_file(folder: Folder) -> None:
    synced(folder, company(8))
    before = (folder.account.read_bytes(), folder.account.stat().st_mtime_ns)
    folder.export(company(10))
    for args in (("--dry-run",), ("--dry-run", "--full")):
        dry = folder.run("reconcile", *args)
        assert dry.returncode == 2, shown(dry)
        assert "create_user" in dry.stdout, shown(dry)
        after = (folder.account.read_bytes(), folder.account.stat().st_mtime_ns)
        assert after == before, f"reconcile {' '.join(args)} wrote the account file"


def test_a_dry_run_without_an_account_file_creates_none(folder: Folder) -> None:
    folder.export(company(8))
    dry = folder.run("reconcile", "--dry-run")
    assert dry.returncode == 2, shown(dry)
    assert "create_user" in dry.stdout
    assert not folder.account.exists()
    assert not list(folder.account.parent.glob("*.partial"))


# --------------------------------------------------------------------------- lost file


def test_a_lost_account_file_is_said_plainly_and_never_in_sync(folder: Folder) -> None:
    """The mirror holds 8 people, the account file is gone: no command may say "in sync".

    `plan` and a dry run show the first sync the next run will make, with a warning naming
    the file and the users the state database will forget; the real run does it (the
    documented "delete the file to start over") and ends with the LMS equal to the mirror.
    """
    rows = company(8)
    synced(folder, rows)
    folder.account.unlink()
    warning = (
        f"the sandbox account file {folder.account} is missing but the state database has "
        "8 synced user(s) for this connection"
    )
    plan = folder.run("plan")
    assert plan.returncode == 2, shown(plan)
    assert warning in said(plan) and "in sync" not in plan.stdout, shown(plan)
    assert "create_user" in plan.stdout
    as_json = folder.run("plan", "--format", "json")
    assert warning in " ".join(json.loads(as_json.stdout)["warnings"]), shown(as_json)
    dry = folder.run("reconcile", "--dry-run")
    assert dry.returncode == 2, shown(dry)
    assert warning in said(dry) and "create_user" in dry.stdout, shown(dry)
    assert not folder.account.exists(), "a dry run makes no account file"
    real = folder.run("reconcile")
    assert real.returncode == 0, shown(real)
    assert warning in said(real), shown(real)
    assert folder.lms() == folder.mirror()
    assert len(folder.lms().users) == len(rows)
    after = folder.run("plan")
    assert after.returncode == 0 and "missing" not in after.stdout, shown(after)


# --------------------------------------------------------------------------- no pickle


class _Planted:
    """Unpickling this creates the marker file: what a crafted account file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_a_crafted_account_file_is_refused_and_never_run(folder: Folder) -> None:
    synced(folder, company(4))
    marker = folder.path / "code-ran"
    folder.account.write_bytes(pickle.dumps((1, _Planted(marker), {})))
    expected = (
        f"{folder.account}: is not a syncd sandbox account file (not JSON); delete it to start over"
    )
    for command in (("reconcile",), ("reconcile", "--dry-run"), ("plan",)):
        proc = folder.run(*command)
        assert proc.returncode == 1, shown(proc)
        assert not marker.exists(), f"{command}: the account file's content was executed"
        assert expected in said(proc) and "Traceback" not in said(proc), shown(proc)
