"""`syncd undo RUN_ID` without the printing: the inverse of a run as a plan, and its apply.

:func:`undo_plan` finds the run and its connection in the runs table, reads the run's
journal (``syncd.state.journal``: each op the LMS confirmed, with what it changed), the
connection's mirror and the completions the results pulled show, in one read
transaction, and turns them around with the pure :func:`syncd.plan.undo.inverse`. The
result is an ordinary :class:`~syncd.plan.Plan`, shown as `syncd plan` shows one.

:func:`apply_undo` sends it through :func:`syncd.pipeline.apply.apply_ops` (one ``undo``
run; no safeguard holds: an operator asked for exactly this change) against the mirror
version the plan was computed from, and then marks the undone run's ops ``rejected`` in
the outbox, so that a reconcile over the same export does not make the same change
again (``syncd.state.holds.mark_rejected``): the export must be fixed first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from syncd.config import Config
from syncd.errors import ExitCode, SyncdError
from syncd.pipeline.apply import apply_ops
from syncd.pipeline.plan import Planned, Source
from syncd.pipeline.reconcile import ConnectionResult, Progress
from syncd.plan import Plan
from syncd.plan.undo import Inverse, Left, inverse
from syncd.state import holds, journal, versions
from syncd.state.db import open_state, read_session, session_factory
from syncd.state.mirror import load_mirror
from syncd.state.results import completed_items
from syncd.vendors import connector_class

UNDOABLE = ("reconcile", "apply", "undo")
"""Kinds of run that change an LMS, so that there is something to undo."""


class UndoRefused(SyncdError):
    """The run cannot be undone as asked (unknown id, a run that changes no LMS, a
    connection no longer configured): one plain line, exit 1."""


@dataclass(frozen=True)
class Undo:
    """The inverse of one run, planned: ``planned`` shows like any plan."""

    run: journal.RunInfo
    connection: str
    planned: Planned
    inverse: Inverse
    done: int
    """How many of the run's ops the LMS confirmed (the journal's entries)."""
    mirror_version: int

    @property
    def nothing_done(self) -> bool:
        return self.done == 0


def undo_plan(config: Config, run_id: int) -> Undo:
    """The inverse plan of run ``run_id``; raises :class:`UndoRefused` when there is none
    to make (the run does not exist, changes no LMS, or its connection is gone)."""
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    try:
        with read_session(engine) as db:
            run = journal.run_of(db, run_id)
            if run is None:
                raise UndoRefused(f"no run {run_id} in the state database")
            if run.kind not in UNDOABLE or not run.connection:
                raise UndoRefused(
                    f"run {run_id} is a `{run.kind}` run: only runs that change an LMS "
                    f"({', '.join(UNDOABLE)}) can be undone"
                )
            name = run.connection
            if name not in config.connections:
                raise UndoRefused(
                    f"run {run_id} belongs to connection `{name}`, which is no longer configured"
                )
            applied = journal.entries(db, name, run_id)
            mirror = load_mirror(db, name, decode_attrs=True)
            pulled, finished = completed_items(db, name)
            version = versions.current(db, name)
    finally:
        engine.dispose()
    conn = config.connections[name]
    vendor = connector_class(conn.vendor)
    profile = vendor.profile_for(conn)
    undone = inverse(
        applied,
        mirror,
        run_id=run_id,
        completed=set(finished) if pulled else None,
        can_deactivate=profile.deactivation,
        max_members=profile.max_members_per_call,
        max_items=profile.max_courses_per_call,
    )
    plan = Plan(
        connection=name,
        profile=profile,
        ops=undone.ops,
        skipped=_left(undone),
        warnings=undone.notes,
        population=len(mirror.users),
    )
    source = Source(
        path=f"the journal of run {run_id} ({run.kind}, {run.started_at:%Y-%m-%d %H:%M} UTC)",
        rows_read=len(applied),
        rows_accepted=len(undone.undone),
        rows_rejected=len(applied) - len(undone.undone),
    )
    planned = Planned(name, plan, source, conn.rate or vendor.rate)
    return Undo(run, name, planned, undone, len(applied), version)


def _left(undone: Inverse) -> pd.DataFrame:
    """What the inverse leaves as it is, as the plan's ``skipped`` (who, why)."""

    def reason(left: Left, prefix: str) -> str:
        return f"{prefix}{left.kind} not undone: {left.reason}"

    rows = [(left.subject, reason(left, "")) for left in undone.skipped]
    rows += [(left.subject, reason(left, "CANNOT BE UNDONE: ")) for left in undone.impossible]
    return pd.DataFrame(
        {"external_id": [r[0] for r in rows], "reason": [r[1] for r in rows]}, dtype="str"
    )


@dataclass(frozen=True)
class Applied:
    """What applying an undo did: the drain's result and how many of the undone run's ops
    were marked rejected (0 when the undo did not go through in full)."""

    result: ConnectionResult
    rejected: int


def apply_undo(
    config: Config,
    undo: Undo,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> Applied:
    """Send the inverse ops, then mark the undone run's ops rejected when all went out."""
    result = apply_ops(
        config,
        undo.connection,
        undo.planned.plan.ops,
        kind="undo",
        mirror_version=undo.mirror_version,
        supersede=False,
        message=f"undo of run {undo.run.id}",
        progress=progress,
        stop=stop,
    )
    if result.exit_code not in (ExitCode.OK, ExitCode.SKIPPED) or result.run_id is None:
        return Applied(result, 0)
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    try:
        with session_factory(engine).begin() as db:
            rejected = holds.mark_rejected(
                db,
                undo.connection,
                list(undo.inverse.undone),
                check=holds.UNDONE,
                reason=f"undone by run {result.run_id}",
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()
    return Applied(result, rejected)
