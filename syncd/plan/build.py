"""``build_plan``: Roster + configuration + mirror -> Plan, with the safeguards measured.

The one entry point the CLI and the reconcile stage call. Pure: no file, database or
network access, and ``today`` is passed in, so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor, Future
from datetime import date

from syncd.config import ConnectionConfig
from syncd.plan.absence import AbsenceHistory
from syncd.plan.desired import Desired, build_desired
from syncd.plan.diff import ComparedSets, MirrorIndex, diff
from syncd.plan.hold import Hold, select
from syncd.plan.learning import NOTHING_COMPLETED, Completions
from syncd.plan.model import Listing, Mirror, Plan, RosterLike, VendorProfile
from syncd.plan.ops import Op
from syncd.plan.safeguards import SHRINK, measure, raise_if_refused, refusal
from syncd.plan.seats import forecast
from syncd.plan.users import Pairing


def desire(
    roster: RosterLike,
    connection: ConnectionConfig,
    profile: VendorProfile,
    *,
    today: date,
    name: str = "",
    termination_field: str | None = "termination_date",
    hire_field: str = "hire_date",
    executor: Executor | None = None,
) -> Desired:
    """The connection's desired state: the half of a plan that needs no mirror.

    Callers that load the mirror meanwhile (``syncd plan`` reads the state database in a
    second thread) compute it first and pass it to :func:`build_plan`.
    """
    return build_desired(
        roster,
        connection,
        profile,
        today=today,
        where=f"connections.{name}" if name else "connection",
        termination_field=termination_field or "",
        hire_field=hire_field,
        executor=executor,
    )


def build_plan(
    roster: RosterLike | None,
    connection: ConnectionConfig,
    profile: VendorProfile,
    mirror: Mirror,
    *,
    today: date,
    name: str = "",
    previous_rows: int | None = None,
    listing: Listing | None = None,
    allow_mass_change: bool = False,
    termination_field: str | None = "termination_date",
    hire_field: str = "hire_date",
    desired: Desired | None = None,
    index: MirrorIndex | None = None,
    pairing: Pairing | None = None,
    compared: Future[ComparedSets] | None = None,
    executor: Executor | None = None,
    absence: AbsenceHistory | None = None,
    kept: Mapping[str, Hold] | None = None,
    completions: Completions = NOTHING_COMPLETED,
) -> Plan:
    """The plan for one connection.

    ``previous_rows``: data rows of the last accepted export (the source-shrink guard; None
    on a first run). ``listing``: the LMS's own listing from a full reconcile (adoption and
    drift). ``allow_mass_change`` (or the connection's ``safeguards.allow_mass_change``)
    lets a plan through that a safeguard would refuse; the checks are still reported.
    ``termination_field``/``hire_field``: the Roster's date fields for the grace period and
    ``hired_within_days`` (the source's ``status.termination_date``). ``desired``: what
    :func:`desire` gave for the same roster, connection and day, if it was computed ahead;
    then ``roster`` is not needed (None lets a caller free a large one early).
    ``index``, ``pairing``, ``compared`` and ``executor``: work done ahead, and where the
    diff may overlap its parts (see :func:`syncd.plan.diff.diff`). ``absence``: the stored
    absence history with the export's checksum and the time (``syncd.plan.absence``; None:
    none known, every absence is a first one). ``kept``: the holds and rejections the
    outbox has (``syncd.state.holds.kept``): those ops stay held whatever this plan trips.
    ``completions``: the items the results say were finished (``syncd.plan.learning``;
    never unassigned); the pipeline passes what the results table holds, unknown before
    the first pull (then nothing is unassigned); the default says nobody finished anything.

    A tripped limit holds the ops it measured (``safeguards.on_trip = "hold"``, see
    :mod:`syncd.plan.hold`) or refuses the plan (``"refuse"``, and ``min_known_share``
    always); the held ops are in ``ops`` and named in ``held``.
    """
    if desired is None:
        if roster is None:
            raise ValueError("build_plan needs the roster or its desired state")
        desired = desire(
            roster,
            connection,
            profile,
            today=today,
            name=name,
            termination_field=termination_field,
            hire_field=hire_field,
        )
    result = diff(
        desired,
        mirror,
        connection.deprovision,
        profile,
        listing=listing,
        index=index,
        pairing=pairing,
        compared=compared,
        executor=executor,
        absence=absence,
        completions=completions,
    )
    rows_read = desired.rows_read
    checks = measure(
        result.ops,
        connection.safeguards,
        population=result.population,
        rows_read=rows_read,
        previous_rows=previous_rows,
        memberships=len(mirror.memberships),
        assignments=len(mirror.assignments),
        present=result.present,
        matched=result.matched,
        exported=len(desired.people),
    )
    overridden = allow_mass_change or connection.safeguards.allow_mass_change
    holding = connection.safeguards.on_trip == "hold"
    refused = refusal(checks, overridden=overridden, hold=holding)
    shrunk = not overridden and any(c.tripped and c.limit == SHRINK for c in checks)
    ops: tuple[Op, ...] = result.ops
    held: dict[str, Hold] = {}
    seats = None
    if refused is None:
        ops, held = select(ops, checks if holding and not overridden else (), kept=kept)
        if connection.seats is not None:
            seats, extra = forecast(ops, held, seats=connection.seats, in_use=result.population)
            if extra:
                ops, held = select(ops, (), extra={**held, **extra})
    return Plan(
        connection=name,
        profile=profile,
        ops=ops,
        held=held,
        seats=seats,
        reasons=result.reasons,
        checks=checks,
        refusal=refused,
        overridden=overridden and any(c.tripped for c in checks),
        skipped=result.skipped,
        warnings=result.warnings,
        population=result.population,
        rows_read=rows_read,
        pending=tuple(sorted(result.absence.pending)) if result.absence else (),
        absence=result.absence.recorded if result.absence and not shrunk else None,
    )


def check_safeguards(plan: Plan) -> None:
    """Raise ``SafeguardTripped`` (limit and numbers) when the plan is refused."""
    raise_if_refused(plan.refusal, connection=plan.connection)
