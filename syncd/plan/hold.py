"""Hold only what is risky: which ops of a plan wait for an operator, and why.

A tripped safeguard used to refuse the whole plan, so one truncated export also stopped
every new hire and every correction. Now (``safeguards.on_trip = "hold"``, the default) a
tripped limit holds only the ops it measured (:func:`~syncd.plan.safeguards.measured_ops`):
the deactivations when too many people would be deactivated, the group changes of the
people a mapping change would move, the title updates when everyone's title would change.
A tripped whole-plan limit (``max_changes``, ``min_source_ratio``: a truncated export)
holds every destructive op (deactivation, deletion, removal from a group, unassignment),
since it cannot tell which of them are real. Everything else still goes out.

Two more reasons hold an op:

- ``dependency``: it depends on a held op (a course assignment after a held reactivation).
- ``prerequisite``: a held deactivation depends on it (a leaver's unassignments); it goes
  when the deactivation is approved.
  A team's batched ``add_members`` is split instead where only some members wait, so the
  others still join (:meth:`~syncd.plan.ops.AddMembers.split`).
- ``kept``: the outbox already holds the same op (or an operator rejected it). A hold
  lasts until an operator decides or it expires, even when the next plan would trip
  nothing: a re-run after half the held ops were approved must not send the other half.

Seat budgets (:mod:`syncd.plan.seats`) hold creates and reactivations the same way.
Pure: plain ops in, the same ops (some split) and a key -> :class:`Hold` map out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from syncd.plan.ops import AddMembers, CreateUser, LinkUser, Op, ReactivateUser, RekeyUser
from syncd.plan.safeguards import (
    DEACTIVATION_KINDS,
    MEMBERSHIPS,
    REMOVAL_KINDS,
    UNASSIGN_KINDS,
    SafeguardCheck,
    field_changes,
)

DESTRUCTIVE_KINDS = DEACTIVATION_KINDS | REMOVAL_KINDS | UNASSIGN_KINDS
"""What a whole-plan limit holds: the ops that take something away."""

DEPENDENCY = "dependency"
PREREQUISITE = "prerequisite"
"""The ``check`` of a destructive op a held deactivation waits on: released with it."""
SEAT_BUDGET = "seat_budget"
DERIVED = frozenset({DEPENDENCY, PREREQUISITE, SEAT_BUDGET})
"""Holds each plan works out again from the others and the numbers, never kept for an
operator: a hire waiting for a seat goes out by itself once a leaver frees one."""
REJECTED = "rejected"
"""The ``check`` of an op an operator rejected: kept out of the LMS while plans ask for it."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Why one op waits: ``check`` names the limit (its label), ``dependency``,
    ``seat_budget`` or ``rejected``; ``reason`` says it in words."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


def _owners(ops: Iterable[Op]) -> dict[str, str]:
    """Key -> person for each op that is one person's own (their create, link, rekey or
    reactivation): what a team's batched add waits on per member."""
    own = (CreateUser, LinkUser, ReactivateUser, RekeyUser)
    return {op.key: op.external_id for op in ops if isinstance(op, own)}


def _split_members(
    op: AddMembers, chosen: frozenset[str], owners: Mapping[str, str]
) -> tuple[AddMembers | None, AddMembers | None]:
    """(members not in ``chosen``, members in it); a part with nobody is None."""
    going = tuple(m for m in op.external_ids if m not in chosen)
    staying = tuple(m for m in op.external_ids if m in chosen)
    return (
        op.only(going, owners) if going else None,
        op.only(staying, owners) if staying else None,
    )


def _measured(
    op: Op, whole: Sequence[SafeguardCheck], per_op: Sequence[SafeguardCheck]
) -> SafeguardCheck | None:
    """The tripped check that holds ``op`` itself, if any (per-operation checks first: they
    name the more precise reason)."""
    for check in per_op:
        if check.measures(op):
            return check
    if op.kind in DESTRUCTIVE_KINDS and whole:
        return whole[0]
    return None


def _hold_of(check: SafeguardCheck) -> Hold:
    return Hold(check=check.label, reason=check.message)


def select(
    ops: Sequence[Op],
    checks: Sequence[SafeguardCheck],
    *,
    kept: Mapping[str, Hold] | None = None,
    extra: Mapping[str, Hold] | None = None,
) -> tuple[tuple[Op, ...], dict[str, Hold]]:
    """The plan's ops (a team's add split where only some members are held) and the holds.

    ``checks``: the measured safeguards (only tripped ones hold anything); ``kept``: holds
    the outbox already has, by op key (the :data:`DERIVED` ones are worked out again, not
    kept); ``extra``: holds decided elsewhere (seat budget).
    """
    tripped = [check for check in checks if check.tripped]
    whole = [check for check in tripped if not check.kinds]
    per_op = [check for check in tripped if check.kinds]
    moving = next((check for check in per_op if check.field == MEMBERSHIPS), None)
    moved = field_changes(ops).get(MEMBERSHIPS, frozenset()) if moving else frozenset()
    owners = _owners(ops)
    held: dict[str, Hold] = {}
    out: list[Op] = []
    for op in ops:
        if isinstance(op, AddMembers) and moving is not None:
            free, risky = _split_members(op, moved, owners)
            if free is not None:
                out.append(free)
            if risky is not None:
                out.append(risky)
                held[risky.key] = _hold_of(moving)
            continue
        out.append(op)
        check = _measured(op, whole, per_op)
        if check is not None:
            held[op.key] = _hold_of(check)
    decided = {key: hold for key, hold in (kept or {}).items() if hold.check not in DERIVED}
    for source in (extra or {}, decided):
        for op in out:
            if op.key in source:
                held[op.key] = source[op.key]
    _with_prerequisites(out, held)
    return _with_dependents(out, held, owners)


def _with_prerequisites(ops: Sequence[Op], held: dict[str, Hold]) -> None:
    """Hold the destructive ops a held op waits on (a leaver's unassignments before their
    held deactivation): approving the person releases them together, and nothing of a
    held departure reaches the LMS before."""
    known = {op.key: op for op in ops}
    for op in ops:
        hold = held.get(op.key)
        if hold is None or op.kind not in DEACTIVATION_KINDS:
            continue
        for need in op.depends_on:
            first = known.get(need)
            if first is not None and first.kind in DESTRUCTIVE_KINDS and need not in held:
                held[need] = Hold(
                    check=PREREQUISITE,
                    reason=f"before the held {op.kind} of {op.subject} ({hold.check})",
                )


def _with_dependents(
    ops: list[Op], held: dict[str, Hold], owners: Mapping[str, str]
) -> tuple[tuple[Op, ...], dict[str, Hold]]:
    """Hold every op that waits, directly or through others, on a held op; a team's add
    waiting through some of its members only is split so the rest still join."""
    grew = bool(held)
    while grew:
        grew = False
        known = {op.key: op for op in ops}
        out: list[Op] = []
        for op in ops:
            waits = [need for need in op.depends_on if need in held]
            if op.key in held or not waits:
                out.append(op)
                continue
            if isinstance(op, AddMembers):
                parts = op.split(owners, set(waits))
                if parts is not None:
                    out.append(parts[0])
                    op = parts[1]
                    waits = [need for need in op.depends_on if need in held]
            first = known.get(waits[0])
            about = f"{first.kind} of {first.subject}" if first is not None else waits[0]
            held[op.key] = Hold(check=DEPENDENCY, reason=f"waits on the held {about}")
            out.append(op)
            grew = True
        ops = out
    return tuple(ops), {op.key: held[op.key] for op in ops if op.key in held}
